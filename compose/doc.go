// Package compose loads a Docker Compose project exactly the way `docker
// compose` does (compose-go's cli and loader: several -f files, --profile,
// .env and --env-file, interpolation, extends, include) and rewrites it for
// an airpack bundle.
//
// Two models of the same project are kept. The typed, interpolated
// *types.Project decides everything: which services are active, which image
// each one runs, where each bind source, env_file, config and secret file
// really is. The non-interpolated merged model is what gets written back, so
// the bundle's docker-compose.yaml keeps its ${VAR} references and an operator
// changes a value in one place, the bundle's .env, which Rewrite fills with
// the values used when packing.
//
// Rewrite never trusts its own output blindly: before returning, it loads the
// rewritten compose file together with the generated .env, and checks that it
// describes the same project as the one that was packed (apart from the
// intended changes: images, shipped file paths, no build). A difference, such
// as a variable an included project takes from its own env_file, is reported
// as an error instead of producing a bundle that runs something else.
package compose
