package bundle

import (
	"crypto/sha256"
	"encoding/hex"
)

// ChainIDs are the chain IDs of an image's layers, bottom first (the OCI image spec:
// ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))). Docker's
// classic image store keys a layer by it: `docker load` takes a layer from the engine instead of
// the archive only when the engine holds a layer with the same chain ID, the same layer on the
// same layers below. So an archive may leave out a layer blob only where every image using it
// has it on a chain the target holds (Omittable); leaving it out by digest alone breaks the load
// of an image that has it on other layers (the containerd store, content-addressed, would
// cope).
func ChainIDs(layers []Layer) []string {
	ids := make([]string, len(layers))
	for i, l := range layers {
		if i == 0 {
			ids[i] = l.DiffID
			continue
		}
		sum := sha256.Sum256([]byte(ids[i-1] + " " + l.DiffID))
		ids[i] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return ids
}

// Chains is the set of chain IDs of the images' layers: what a target holds once they are
// loaded.
func Chains(images []Image) map[string]bool {
	held := map[string]bool{}
	for _, im := range images {
		for _, c := range ChainIDs(im.Layers) {
			held[c] = true
		}
	}
	return held
}

// Omittable are the layer digests an archive holding images may leave out when the target
// holds the chains held: a digest every use of which, in every image, sits on a held chain.
func Omittable(images []Image, held map[string]bool) map[string]bool {
	return omittableBy(images, held, func(l Layer) string { return l.Digest })
}

// OmittableDiffIDs is Omittable by content: the diff IDs an archive holding images may leave
// out when the target holds the chains held, those every use of which, in every image, sits on
// a held chain. It serves an archive that learns its blobs' digests only as it writes them (a
// stream): a blob of such a diff ID is left out where Omittable agrees, and every use of its
// digest is a use of its diff ID, so it does.
func OmittableDiffIDs(images []Image, held map[string]bool) map[string]bool {
	return omittableBy(images, held, func(l Layer) string { return l.DiffID })
}

// omittableBy are the keys of the layers every use of which sits on a held chain.
func omittableBy(images []Image, held map[string]bool, key func(Layer) string) map[string]bool {
	ok := map[string]bool{}
	bad := map[string]bool{}
	for _, im := range images {
		chains := ChainIDs(im.Layers)
		for i, l := range im.Layers {
			if held[chains[i]] {
				ok[key(l)] = true
			} else {
				bad[key(l)] = true
			}
		}
	}
	for k := range bad {
		delete(ok, k)
	}
	return ok
}
