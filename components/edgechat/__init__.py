"""edgechat: edge-first real-time chat, packaged as AWS IoT Greengrass v2 components."""

__version__ = "0.1.0"
