terraform {
  required_version = ">= 1.0"

  required_providers {
    yandex = {
      source  = "yandex-cloud/yandex"
      version = "~> 0.100"
    }
  }
}

# Credentials come from the environment only (YC_TOKEN or YC_SERVICE_ACCOUNT_KEY_FILE,
# YC_CLOUD_ID, YC_FOLDER_ID): the server passes them to Terraform and nowhere else.
provider "yandex" {
  folder_id = var.folder_id == "" ? null : var.folder_id
  zone      = var.zone
}
