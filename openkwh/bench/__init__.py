"""`make bench`: gas per operation (`gas`), the meter bridge's figures (`bridge`), the dApp's (`dapp`), the national replay through the data hub (`scale`)."""
