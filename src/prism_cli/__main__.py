from prism_cli.cli.app import main

main()
