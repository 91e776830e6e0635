from envmint.cli import app

app()
