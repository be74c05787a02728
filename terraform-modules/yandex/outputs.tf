output "machines" {
  description = "The machines by name: their cloud id and addresses (public: empty without one)."
  value = {
    for name, vm in yandex_compute_instance.machine : name => {
      id          = vm.id
      internal_ip = vm.network_interface[0].ip_address
      public_ip   = vm.network_interface[0].nat_ip_address == null ? "" : vm.network_interface[0].nat_ip_address
    }
  }
}
