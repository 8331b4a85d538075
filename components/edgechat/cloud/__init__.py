"""The cloud half on AWS (docs/cloud.md): Lambda handlers over the same pure core,
a DynamoDB MessageStore, the SAM template, and a local cloud to run it against."""
