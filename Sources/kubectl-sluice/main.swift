import SluiceCLI

// kubectl runs this for `kubectl sluice ...`.
SluiceCommand.main()
