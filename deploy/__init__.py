"""Deployment files (docker-compose gateway, Kubernetes) and the script that keeps them in step with the code."""
