"""Greengrass v2: the component catalogue, recipes, build/publish/deploy, and the
IPC adapter the components use under the nucleus.  Nothing here imports
awsiotsdk or boto3 at import time: ``edgechat up`` needs neither."""
