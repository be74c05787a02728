# The deployment's network: its own subnet (in an existing network, or in one made for it)
# and a security group that lets the machines talk to each other and to the Ratchet server,
# and lets nothing else in unless asked.

resource "yandex_vpc_network" "bench" {
  count  = var.network_id == "" ? 1 : 0
  name   = "ratchet-${var.deployment}"
  labels = var.labels
}

locals {
  network_id = var.network_id == "" ? yandex_vpc_network.bench[0].id : var.network_id
}

# Machines without a public address get out (packages, images) through a NAT gateway.
resource "yandex_vpc_gateway" "nat" {
  count  = var.nat_gateway ? 1 : 0
  name   = "ratchet-${var.deployment}"
  labels = var.labels
  shared_egress_gateway {}
}

resource "yandex_vpc_route_table" "nat" {
  count      = var.nat_gateway ? 1 : 0
  name       = "ratchet-${var.deployment}"
  network_id = local.network_id
  labels     = var.labels

  static_route {
    destination_prefix = "0.0.0.0/0"
    gateway_id         = yandex_vpc_gateway.nat[0].id
  }
}

resource "yandex_vpc_subnet" "bench" {
  name           = "ratchet-${var.deployment}"
  zone           = var.zone
  network_id     = local.network_id
  v4_cidr_blocks = [var.subnet_cidr]
  route_table_id = var.nat_gateway ? yandex_vpc_route_table.nat[0].id : null
  labels         = var.labels
}

resource "yandex_vpc_security_group" "bench" {
  name       = "ratchet-${var.deployment}"
  network_id = local.network_id
  labels     = var.labels

  ingress {
    description       = "the machines of this deployment (database and load)"
    protocol          = "ANY"
    predefined_target = "self_security_group"
    from_port         = 0
    to_port           = 65535
  }

  dynamic "ingress" {
    for_each = var.inbound
    content {
      description    = "asked for"
      protocol       = ingress.value.protocol
      port           = ingress.value.port
      v4_cidr_blocks = [ingress.value.cidr]
    }
  }

  egress {
    description       = "the machines of this deployment"
    protocol          = "ANY"
    predefined_target = "self_security_group"
    from_port         = 0
    to_port           = 65535
  }

  egress {
    description    = "the agents' connection to the Ratchet server"
    protocol       = "TCP"
    v4_cidr_blocks = var.server_cidrs
    from_port      = 0
    to_port        = 65535
  }

  egress {
    description    = "packages and container images"
    protocol       = "ANY"
    v4_cidr_blocks = var.egress_cidrs
    from_port      = 0
    to_port        = 65535
  }
}
