from learncity.cli import app

app()
