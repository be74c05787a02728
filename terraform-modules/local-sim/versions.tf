# A simulation of the yandex module: the same variables and outputs, with machines that are
# ratchet-agent processes on this host instead of VMs. The whole Terraform path runs for
# real (the server's runner, the state, apply and destroy); only the cloud differs.
terraform {
  required_version = ">= 1.0"

  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "2.1.2"
    }
  }
}
