output "machines" {
  description = "The machines by name: their cloud id and addresses (public: empty without one)."
  value = {
    for name, m in null_resource.machine : name => {
      id          = m.id
      internal_ip = var.machines[name].ip
      public_ip   = ""
    }
  }
}
