# The machines: one VM each, booted from an image family (or image id), with a fixed
# internal address, optional public address and extra disks, and the cloud-init user data
# that installs the agent.

locals {
  extra_disks = merge([
    for name, m in var.machines : {
      for i, d in m.secondary_disks : "${name}-${i}" => merge(d, { machine = name })
    }
  ]...)
}

data "yandex_compute_image" "family" {
  for_each = { for name, m in var.machines : name => m if m.image_id == "" }
  family   = each.value.image_family
}

resource "yandex_compute_disk" "extra" {
  for_each = local.extra_disks
  name     = each.key
  zone     = var.zone
  size     = each.value.size_gb
  type     = each.value.type
  labels   = merge(var.labels, { machine = each.value.machine })
}

resource "yandex_compute_instance" "machine" {
  for_each    = var.machines
  name        = each.key
  hostname    = each.key
  platform_id = each.value.platform
  zone        = var.zone
  labels      = merge(var.labels, { machine = each.key, role = each.value.role })

  resources {
    cores         = each.value.cores
    memory        = each.value.memory_gb
    core_fraction = each.value.core_fraction
  }

  boot_disk {
    initialize_params {
      image_id = each.value.image_id != "" ? each.value.image_id : data.yandex_compute_image.family[each.key].id
      size     = each.value.disk_gb
      type     = each.value.disk_type
    }
  }

  dynamic "secondary_disk" {
    for_each = { for k, d in local.extra_disks : k => d if d.machine == each.key }
    content {
      disk_id = yandex_compute_disk.extra[secondary_disk.key].id
    }
  }

  network_interface {
    subnet_id          = yandex_vpc_subnet.bench.id
    ip_address         = each.value.ip
    nat                = each.value.public_ip
    security_group_ids = [yandex_vpc_security_group.bench.id]
  }

  metadata = {
    user-data = var.user_data[each.key]
  }
}
