"""{{ cookiecutter.service_name }}: a web service with a production-grade migration system."""
