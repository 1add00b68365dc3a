package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Upgrade is what an upgrade bundle from a base bundle to a new one carries, and what it needs
// the target to hold already. PlanUpgrade decides it; `airpack pack --base` writes it and
// `airpack diff` reports it, so the two cannot disagree.
type Upgrade struct {
	// Carried are the new bundle's layers the base does not have, each once, in image order:
	// the only layer blobs the upgrade bundle's image archive stores.
	Carried []Layer
	// CarriedBytes is the sum of the carried layers' sizes.
	CarriedBytes int64
	// Reused are the new bundle's layers the base has, each once: left out of the archive.
	Reused []Layer
	// ReusedBytes is the sum of the reused layers' sizes.
	ReusedBytes int64
	// Needs are the base's images holding a reused layer (for each reused layer, the first base
	// image holding it): the target must have them loaded.
	Needs []BaseImage
}

// PlanUpgrade plans the upgrade from base to m. A layer of m is reused (left out) only when
// every image of m using it has it on a chain of layers one of base's images has (Omittable):
// Docker's classic store reuses a layer only so. A changed layer thus makes every layer above
// it carried, as a registry push would.
func PlanUpgrade(base, m *Manifest) Upgrade {
	return upgradeLeaving(base, m, Omittable(m.Images, Chains(base.Images)))
}

// UpgradeLeaving is the upgrade from base to m whose archive left out the layer digests left,
// decided as they were written (OmittableDiffIDs: a streamed archive's). It is PlanUpgrade's
// plan where the two rules agree, as they do but for a content stored under two digests; a
// digest left out that PlanUpgrade would carry is an error: the target could lack it.
func UpgradeLeaving(base, m *Manifest, left map[string]bool) (Upgrade, error) {
	plan := Omittable(m.Images, Chains(base.Images))
	for d := range left {
		if !plan[d] {
			return Upgrade{}, fmt.Errorf("layer %s was left out of the archive, but an image has it on layers %s %s does not hold", d, base.Name, base.Version)
		}
	}
	return upgradeLeaving(base, m, left), nil
}

func upgradeLeaving(base, m *Manifest, omit map[string]bool) Upgrade {
	holder := map[string]int{} // chain ID -> the first base image with it
	for i, im := range base.Images {
		for _, c := range ChainIDs(im.Layers) {
			if _, ok := holder[c]; !ok {
				holder[c] = i
			}
		}
	}
	var u Upgrade
	seen := map[string]bool{}
	needed := map[int]bool{}
	for _, im := range m.Images {
		chains := ChainIDs(im.Layers)
		for j, l := range im.Layers {
			if omit[l.Digest] {
				if i := holder[chains[j]]; !needed[i] {
					needed[i] = true
					b := base.Images[i]
					u.Needs = append(u.Needs, BaseImage{Ref: b.Ref, ConfigDigest: b.ConfigDigest, ManifestDigest: b.ManifestDigest})
				}
			}
			if seen[l.Digest] {
				continue
			}
			seen[l.Digest] = true
			if omit[l.Digest] {
				u.Reused = append(u.Reused, l)
				u.ReusedBytes += l.Size
			} else {
				u.Carried = append(u.Carried, l)
				u.CarriedBytes += l.Size
			}
		}
	}
	return u
}

// Omits reports whether the upgrade leaves the layer digest out of the image archive.
func (u Upgrade) Omits(digest string) bool {
	for _, l := range u.Reused {
		if l.Digest == digest {
			return true
		}
	}
	return false
}

// Base is the airpack.json base record of the upgrade from base, whose airpack.json is
// baseJSON, as planned by u.
func (u Upgrade) Base(base *Manifest, baseJSON []byte) *Base {
	sum := sha256.Sum256(baseJSON)
	b := &Base{Name: base.Name, Version: base.Version, ManifestSHA256: hex.EncodeToString(sum[:]), Layers: []string{}, Images: u.Needs}
	for _, l := range u.Reused {
		b.Layers = append(b.Layers, l.Digest)
	}
	return b
}
