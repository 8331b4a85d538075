"""The Broker component: Mosquitto with edgechat's listeners, accounts and ACLs."""

from edgechat.broker.credentials import Credentials, issue, revoke, system_password
from edgechat.broker.process import Broker, BrokerError

__all__ = ["Broker", "BrokerError", "Credentials", "issue", "revoke", "system_password"]
