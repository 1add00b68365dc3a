package compose

import (
	"sort"

	"github.com/compose-spec/compose-go/v2/types"
)

// VolumeImage is an image a service mounts as a `type: image` volume: the bundle ships it like a
// service's image.
type VolumeImage struct {
	Service string
	// Image is the volume's source as docker compose reads it.
	Image string
}

// ImageVolumes returns the `type: image` volumes of the active services, sorted by service and
// image.
func (p *Project) ImageVolumes() []VolumeImage {
	var out []VolumeImage
	for _, name := range p.typed.ServiceNames() {
		for _, v := range p.typed.Services[name].Volumes {
			if v.Type == types.VolumeTypeImage && v.Source != "" {
				out = append(out, VolumeImage{Service: name, Image: v.Source})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Image < out[j].Image
	})
	return out
}

// imageVolume points a `type: image` volume at the shipped reference of its image.
func (r *rewriter) imageVolume(raw any, tv types.ServiceVolumeConfig) (any, error) {
	ref, ok := r.opts.VolumeImages[tv.Source]
	m, isMap := raw.(map[string]any)
	if !isMap || m["type"] != types.VolumeTypeImage || !sameTarget(m["target"], tv.Target) {
		var err error
		if m, err = volumeMap(tv); err != nil {
			return nil, err
		}
	}
	if ok && ref != "" {
		m["source"] = escape(ref)
	}
	return m, nil
}
