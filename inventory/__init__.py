"""Sites, donors, donations, devices, disks, events and the device lifecycle."""
