from adapter import create_app

app = create_app()
