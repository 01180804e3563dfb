import SluiceCLI

SluiceCommand.main()
