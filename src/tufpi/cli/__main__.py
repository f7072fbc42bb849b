from tufpi.cli import main

main()
