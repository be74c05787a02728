# Each "VM" boots the way a real one would: machine.sh reads the cloud-init user data the
# server rendered, downloads the agent from the server, checks its sha256 and starts it
# with the enrollment environment from the user data; destroying the VM stops the agent
# and everything it started, and removes its directory.

resource "null_resource" "machine" {
  for_each = var.machines

  triggers = {
    address   = each.value.ip
    user_data = sha256(var.user_data[each.key])
    # Beside the deployments (<data dir>/sim-machines/<name>), not in the deployment's own
    # dir: that one is the server's only, and PostgreSQL runs as another user here.
    dir    = "${dirname(dirname(abspath(path.root)))}/sim-machines/${each.key}"
    script = "${abspath(path.module)}/machine.sh"
  }

  provisioner "local-exec" {
    command = "${self.triggers.script} start"
    environment = {
      MACHINE   = each.key
      ADDRESS   = each.value.ip
      DIR       = self.triggers.dir
      USER_DATA = var.user_data[each.key]
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "${self.triggers.script} stop"
    environment = {
      DIR = self.triggers.dir
    }
  }
}
