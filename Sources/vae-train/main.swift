print("vae-train: not yet built")
