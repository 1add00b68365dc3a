package ram

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// StableID derives a 32-hex-character id (the shape of Rainbond's group_key, service_key and
// service_id) from parts: the same parts always give the same id, so converting the same project
// twice gives the same template. Each part is length-prefixed, so ("ab", "c") and ("a", "bc")
// differ.
func StableID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ShareUUID is a component's service_share_uuid, which dependencies (dep_service_key) and
// mounts (mnt_relation_list) refer to.
func ShareUUID(serviceKey, serviceID string) string {
	return serviceKey + "+" + serviceID
}

func itoa(i int) string { return strconv.Itoa(i) }

// quote quotes s for a message, cut to a readable length.
func quote(s string) string {
	const max = 60
	if r := []rune(s); len(r) > max {
		return strconv.Quote(string(r[:max])) + "..."
	}
	return strconv.Quote(s)
}
