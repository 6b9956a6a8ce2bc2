"""Deploy bundles to devices over SSH: checksum-verified upload, atomic switch of ``ROOT/current``, rollback,
a systemd service with health check and automatic rollback, and fleets through Ansible.

Device layout: ``ROOT/releases/<id>/`` (one per bundle), ``ROOT/current -> releases/<id>``.
The device needs only ``python3`` (3.7+) and an ssh server; edgesdk itself is not required there.
"""

from ._deploy import DEFAULT_KEEP, DeployResult, call_agent, deploy, release_id, releases, rollback
from ._errors import DeployError, SSHError
from ._fleet import FleetResult, ansible_playbook_exe, deploy_fleet, playbook_path, playbook_text, write_playbook
from ._service import HealthCheck, device_root_of, exec_args, install_unit, systemd_running, unit_text
from ._ssh import SSH_CONFIG_ENV, SSHOptions, ssh_argv
from ._target import DEFAULT_ROOT, Target, parse_target
from ._trust import TrustResult, trust, trust_fleet

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_ROOT",
    "DeployError",
    "DeployResult",
    "FleetResult",
    "HealthCheck",
    "SSHError",
    "SSHOptions",
    "SSH_CONFIG_ENV",
    "Target",
    "TrustResult",
    "ansible_playbook_exe",
    "call_agent",
    "deploy",
    "deploy_fleet",
    "device_root_of",
    "exec_args",
    "install_unit",
    "parse_target",
    "playbook_path",
    "playbook_text",
    "release_id",
    "releases",
    "rollback",
    "ssh_argv",
    "systemd_running",
    "trust",
    "trust_fleet",
    "unit_text",
    "write_playbook",
]
