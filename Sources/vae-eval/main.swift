print("vae-eval: not yet built")
