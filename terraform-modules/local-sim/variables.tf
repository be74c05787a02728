# The inputs of a deployment, exactly as terraform-modules/yandex declares them (a test
# checks that the two modules agree); most of them mean nothing to a simulation.

variable "deployment" {
  type        = string
  description = "The deployment's id (its test run's, shortened): names the network resources."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,39}$", var.deployment))
    error_message = "The deployment id is 1-40 of [a-z0-9-], starting with a letter or digit."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource: the owner run, the Ratchet installation and the TTL, so a leaked resource says whose it is and when it may go."
  default     = {}
}

variable "folder_id" {
  type        = string
  description = "The Yandex Cloud folder; empty: the provider's YC_FOLDER_ID."
  default     = ""
}

variable "zone" {
  type        = string
  description = "The availability zone of the subnet and the VMs."
  default     = "ru-central1-a"
}

variable "network_id" {
  type        = string
  description = "An existing VPC network to put the subnet in; empty: a network is created for this deployment (networks are a scarce quota: prefer an existing one)."
  default     = ""
}

variable "subnet_cidr" {
  type        = string
  description = "The deployment's own subnet (allocated by the server from its pool)."

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "The subnet must be a CIDR block such as 10.130.7.0/24."
  }
}

variable "server_cidrs" {
  type        = list(string)
  description = "Where the Ratchet server is reachable: the agents' connection out."

  validation {
    condition     = length(var.server_cidrs) > 0 && alltrue([for c in var.server_cidrs : can(cidrhost(c, 0))])
    error_message = "Give at least one CIDR block for the server."
  }
}

variable "nat_gateway" {
  type        = bool
  description = "Route the subnet out through a NAT gateway of its own, so machines without a public address reach package mirrors and the container registry; off when the network already routes out."
  default     = true
}

variable "egress_cidrs" {
  type        = list(string)
  description = "Other destinations the machines may reach: package mirrors and the container registry (PostgreSQL and Stroppy images). Narrow it to a proxy or mirror where there is one."
  default     = ["0.0.0.0/0"]
}

variable "inbound" {
  type = list(object({
    protocol = string
    port     = number
    cidr     = string
  }))
  description = "Inbound traffic allowed besides the machines' own (none unless asked, e.g. SSH from an operator's address)."
  default     = []
}

variable "machines" {
  type = map(object({
    role          = string
    platform      = string
    cores         = number
    memory_gb     = number
    core_fraction = number
    disk_gb       = number
    disk_type     = string
    image_family  = string
    image_id      = string
    public_ip     = bool
    ip            = string
    secondary_disks = list(object({
      size_gb = number
      type    = string
    }))
  }))
  description = "The machines by name: role, hardware, image, fixed internal address."

  validation {
    condition     = alltrue([for m in var.machines : contains([5, 20, 50, 100], m.core_fraction)])
    error_message = "The core_fraction of every machine is one of 5, 20, 50 or 100."
  }

  validation {
    condition     = alltrue([for m in var.machines : m.cores >= 2 && m.memory_gb >= 1 && m.disk_gb >= 10])
    error_message = "Every machine needs at least 2 cores, 1 GB of memory and a 10 GB disk."
  }
}

variable "user_data" {
  type        = map(string)
  description = "The cloud-init user data of each machine, by name: it installs the agent and enrolls it (it carries an enrollment token)."
  sensitive   = true
}
