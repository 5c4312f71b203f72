"""SA-Siam (twofold Siamese tracker) trainer on vid_track records."""
