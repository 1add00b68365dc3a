// Package ram reads and writes Rainbond "RAM" application-template packages (export format
// rainbond-app; Kato's identical kato-app): a gzip tar holding one directory with metadata.json,
// the template, and component-images.tar, a docker-save archive of every component's image.
//
// The contract is docs/ram-format.md, drawn from goodrain/rainbond-oam. What the platform
// importer requires shapes this package:
//
//   - metadata.json is decoded strictly into typed structs (Template, Component, ...): a value
//     of the wrong JSON type fails, with the key path (DecodeMetadata, MetadataError). Encoding
//     always writes every key that is not omitempty, lists as [] rather than null, and the
//     defaults (template_version v2, governance_mode BUILD_IN_SERVICE_MESH, arch amd64).
//
//   - ReadPackage accepts the current layout and Rainbond 5.2's zip (one short-named image tar
//     per component and per plugin), recognised by content; it extracts only the image archives, inside a
//     directory of its own, refusing names that leave it and links of any kind, and checks that
//     every share_image is in the images.
//
//   - WritePackage writes the current layout deterministically and atomically, checks the image
//     archive it was given holds every share_image, and refuses names (group name, directory,
//     file name) containing "plugin" in a template without plugins (the importer would skip all
//     its images).
//
//   - ToCompose turns a template into a Compose project (docs/ram-format.md §6) and FromCompose
//     turns a Compose project back into a template (§7); what Compose cannot express travels in
//     x-ram extension fields (extension.go), so RAM -> bundle -> RAM loses nothing.
package ram
