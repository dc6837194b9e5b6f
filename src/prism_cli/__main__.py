from prism_cli.cli.entry import main

main()
