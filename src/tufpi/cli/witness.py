"""``tufpi witness``: run a C2SP tlog-witness that cosigns transparency logs' checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from tufpi.cli.obj import Obj


@click.group(name="witness")
def witness_group() -> None:
    """A transparency log witness (c2sp.org/tlog-witness).

    \b
    1. `tufpi witness init --name NAME --key FILE` makes its key and prints its vkey;
    2. the index's root lists that vkey (a root ceremony: `--witness VKEY`), and the index
       lists the witness's URL in its `witnesses` setting;
    3. `tufpi witness serve --key FILE --state FILE --log VKEY` answers add-checkpoint.
    """


@witness_group.command("init")
@click.option("--name", required=True, help="The witness's name, e.g. witness.example.org/w1.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The key file to create (mode 0600; never replaced).",
)
def witness_init(name: str, key_path: Path) -> None:
    """Generate the witness's Ed25519 key; print its cosignature/v1 vkey."""
    from tufpi.witness import WitnessKeyError, create_key

    try:
        key = create_key(key_path, name)
    except WitnessKeyError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"wrote {key_path}; the witness's vkey (for the root's policy):", err=True)
    click.echo(key.verifier.vkey())


@witness_group.command("serve")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The witness's key file (`tufpi witness init`).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The state file: the latest tree cosigned per log (created when missing).",
)
@click.option(
    "--log",
    "log_vkeys",
    multiple=True,
    required=True,
    help="A log's vkey (its name is the log's origin); repeat for more logs or keys.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8099, show_default=True, help="Port to listen on.")
@click.option("--log-level", default="info", show_default=True)
@click.pass_obj
def witness_serve(
    obj: Obj,
    key_path: Path,
    state_path: Path,
    log_vkeys: tuple[str, ...],
    host: str,
    port: int,
    log_level: str,
) -> None:
    """Answer POST /add-checkpoint for the logs given: cosign a checkpoint that extends the
    tree this witness cosigned before; refuse forks and rollbacks."""
    from tufpi.clock import utcnow
    from tufpi.http import serve_app
    from tufpi.tlog.notes import NoteError
    from tufpi.witness import (
        StateError,
        StateFile,
        Witness,
        WitnessKeyError,
        create_app,
        load_key,
        logs_of,
    )

    try:
        key = load_key(key_path)
        logs = logs_of(log_vkeys)
        state = StateFile(state_path)
        with state.locked():
            states = state.read()
    except (NoteError, StateError, WitnessKeyError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"witness {key.verifier.vkey()}", err=True)
    for origin in sorted(logs):
        held = states.get(origin)
        size = f"size {held.size}" if held else "nothing cosigned yet"
        click.echo(f"witnessing {origin}: {size}", err=True)
    app = create_app(Witness(key, logs, state, utcnow))
    serve_app(app, obj.settings(host=host, port=port), log_level)
