package ram

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mholt/archives"

	"github.com/airpack/airpack/internal/xio"
)

// ErrNotPackage is what InspectPackage returns (wrapped) for a file that is not a RAM package:
// a directory, not a gzip tar or a zip, an airpack bundle, or an archive without metadata.json.
// ReadPackage's errors wrap it for the first two.
var ErrNotPackage = errors.New("not a RAM package")

// notPackage is an error of openPackage's, which says why a file is not a RAM package.
type notPackage struct{ err error }

func (e notPackage) Error() string        { return e.err.Error() }
func (e notPackage) Unwrap() error        { return e.err }
func (e notPackage) Is(target error) bool { return target == ErrNotPackage }

// PackageReport is what `airpack inspect` shows of a RAM package.
type PackageReport struct {
	File            string            `json:"file"`
	Format          string            `json:"format"` // "gzip tar" or "zip"
	Dir             string            `json:"dir"`    // the top-level directory
	Layout          string            `json:"layout"` // LayoutCurrent or LayoutLegacy52
	GroupName       string            `json:"groupName"`
	GroupVersion    string            `json:"groupVersion"`
	GroupKey        string            `json:"groupKey"`
	TemplateVersion string            `json:"templateVersion"`
	GovernanceMode  string            `json:"governanceMode"`
	Components      []ComponentReport `json:"components"`
	Plugins         []string          `json:"plugins,omitempty"`
	ConfigGroups    []string          `json:"configGroups,omitempty"`
	// Images are the images in the package's component image archives (component-images.tar,
	// or a legacy package's per-component tars), each once with all its names.
	Images []ImageReport `json:"images"`
	// Problems are what makes the import fail or the application installed break (never nil).
	Problems []string `json:"problems"`
	// Notes are what the platform repairs or ignores at install, harmless as the template stands
	// (never nil).
	Notes []string `json:"notes"`
}

// ImageReport is one image of a package's image archives.
type ImageReport struct {
	// Names are the image's names, each once (names the engine takes for one, e.g. redis:7 and
	// docker.io/library/redis:7, in their shortest spelling), sorted; none for an untagged image.
	Names []string `json:"names"`
	// Archive is the image tar holding it, a path inside the package directory.
	Archive string `json:"archive"`
}

// ComponentReport is one component of a RAM package.
type ComponentReport struct {
	Cname      string `json:"cname"`
	ServiceKey string `json:"serviceKey"`
	ShareImage string `json:"shareImage"`
	// ImageFound reports whether the package's image archives hold ShareImage.
	ImageFound   bool   `json:"imageFound"`
	ExtendMethod string `json:"extendMethod"`
	// Memory and CPU are the limits the platform installs the component with (init_memory, or
	// what the importer infers; cpu or the legacy container_cpu), 0 for none.
	Memory int `json:"memory"` // MB
	CPU    int `json:"cpu"`    // millicores
	// VM reports a virtual machine component, which docker compose cannot run.
	VM bool `json:"vm,omitempty"`
	// ServiceName is the name other components reach it by on the platform: its first port's
	// k8s_service_name (the console gives every port that one); "" without ports.
	ServiceName string `json:"serviceName"`
	// Image is the image the component was made from (the template's image), when it is not
	// the share_image.
	Image string `json:"image,omitempty"`
	// Cmd is the command the platform runs (cmd; "": the image's).
	Cmd string `json:"cmd,omitempty"`
	// Replicas is the number of instances the platform starts (min_node), -1 for a daemonset
	// (one per node).
	Replicas int `json:"replicas"`
	// Readiness is the probe the platform runs (mode readiness, is_used), nil when none.
	Readiness    *ProbeReport   `json:"readiness,omitempty"`
	Ports        []PortReport   `json:"ports"`
	Env          int            `json:"env"`         // service_env_map_list entries
	ConnectInfo  int            `json:"connectInfo"` // service_connect_info_map_list entries
	Dependencies []string       `json:"dependencies"`
	Volumes      []VolumeReport `json:"volumes"`
	Mounts       []MountReport  `json:"mounts,omitempty"`
}

// ProbeReport is a component's readiness probe.
type ProbeReport struct {
	Scheme string `json:"scheme"` // tcp, http or cmd (another scheme: no probe runs)
	// Port is the probe's port, else the component's first port; 0 for cmd.
	Port int    `json:"port,omitempty"`
	Path string `json:"path,omitempty"` // http
	Cmd  string `json:"cmd,omitempty"`  // cmd
}

// PortReport is one port of a component.
type PortReport struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Alias    string `json:"alias"`
	Inner    bool   `json:"inner"`
	Outer    bool   `json:"outer"`
}

// VolumeReport is one volume of a component.
type VolumeReport struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	Type       string `json:"type"`
	Capacity   int    `json:"capacity,omitempty"` // GiB
	AccessMode string `json:"accessMode,omitempty"`
	// Size is the length of a config file's content.
	Size int `json:"size,omitempty"`
}

// MountReport is a component's mount of another component's volume.
type MountReport struct {
	Component string `json:"component"` // its cname, or the service_share_uuid when unknown
	Volume    string `json:"volume"`
	Path      string `json:"path"`
}

// InspectPackage describes the RAM package file: its template and the names its image archives
// hold. It reads the package once, as a stream, and extracts nothing: metadata.json is decoded
// (as strictly as ReadPackage does) and the image archives are only scanned for their
// manifest.json and index.json. What would trouble the importer (a missing share_image, a
// directory name containing "plugin", links, share_images its re-tag cannot take or makes one
// name: ImportProblems) is listed in Problems rather than refused. A file
// that is no RAM package gives an error wrapping ErrNotPackage; opts.MaxSize bounds the bytes
// decompressed (opts.WorkDir is unused).
func InspectPackage(ctx context.Context, file string, opts ReadOptions) (*PackageReport, error) {
	f, size, kind, err := openPackage(ctx, file, "inspect")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := opts.MaxSize
	if max <= 0 {
		max = DefaultMaxSize
	}
	s := &scanner{x: &extractor{file: file, max: max}, images: map[string]*imageNames{}, groups: map[string][][]string{}}
	r := &PackageReport{File: file, Format: "gzip tar"}
	if kind == "zip" {
		r.Format = "zip"
		err = s.zip(ctx, f, size)
	} else {
		err = s.gzipTar(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	if err := s.report(r); err != nil {
		return nil, err
	}
	return r, nil
}

// scanner walks a package's entries, keeping metadata.json and the image names of each image
// tar at depth 1 and 2.
type scanner struct {
	x        *extractor // the file name, the size limit and the count of bytes read
	top      string
	metadata []byte
	images   map[string]*imageNames // path inside top -> the names it holds
	groups   map[string][][]string  // path inside top -> its images, each its names
	order    []string
	problems []string
	bundle   bool // airpack.json at the top: an airpack bundle
}

var errStopScan = errors.New("stop")

func (s *scanner) gzipTar(ctx context.Context, f *os.File) error {
	zr, err := archives.Gz{}.OpenReader(f)
	if err != nil {
		return s.x.corrupt(err)
	}
	defer zr.Close()
	tr := tar.NewReader(xio.ContextReader(ctx, &countingReader{r: zr, x: s.x}))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.fail(ctx, err)
		}
		kind := entryFile
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
		case tar.TypeDir:
			kind = entryDir
		case tar.TypeSymlink, tar.TypeLink:
			kind = entrySymlink
		default:
			kind = entryOther
		}
		if err := s.entry(h.Name, kind, tr); err != nil {
			if err == errStopScan {
				return nil
			}
			return s.fail(ctx, err)
		}
	}
}

func (s *scanner) zip(ctx context.Context, f *os.File, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return s.x.corrupt(err)
	}
	for _, zf := range zr.File {
		kind := entryFile
		switch m := zf.Mode(); {
		case m&os.ModeSymlink != 0:
			kind = entrySymlink
		case m.IsDir():
			kind = entryDir
		case !m.IsRegular():
			kind = entryOther
		}
		var rc io.ReadCloser
		if kind == entryFile {
			if rc, err = zf.Open(); err != nil {
				return s.x.corrupt(err)
			}
		}
		var body io.Reader = eofReader{}
		if rc != nil {
			body = xio.ContextReader(ctx, &countingReader{r: rc, x: s.x})
		}
		err := s.entry(zf.Name, kind, body)
		if rc != nil {
			rc.Close()
		}
		if err == errStopScan {
			return nil
		}
		if err != nil {
			return s.fail(ctx, err)
		}
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (s *scanner) fail(ctx context.Context, err error) error {
	var a abort
	switch {
	case errors.As(err, &a):
		return a.err
	case errors.Is(err, errTooBig):
		return s.x.tooBig()
	case ctx.Err() != nil:
		return fmt.Errorf("inspect RAM package %s: %w", s.x.file, ctx.Err())
	}
	return s.x.corrupt(err)
}

// entry handles one archive entry; body reads its content.
func (s *scanner) entry(raw string, kind entryKind, body io.Reader) error {
	s.x.current = raw
	name := entryName(raw)
	if name == "" {
		return nil
	}
	if !safeName(name) {
		s.problems = append(s.problems, fmt.Sprintf("entry %s has a name that leaves the package directory: the package would be refused", quote(raw)))
		return nil
	}
	name = path.Clean(name)
	top, rest, nested := strings.Cut(name, "/")
	switch {
	case !nested && kind != entryDir:
		if name == MetadataFile {
			return abort{fmt.Errorf("%s: metadata.json is at the top level; the importer opens <top>/metadata.json: put it in one top-level directory", s.x.file)}
		}
		s.problems = append(s.problems, fmt.Sprintf("entry %s is at the top level, outside the package directory", quote(raw)))
		return nil
	case s.top == "":
		s.top = top
	case top != s.top:
		return abort{fmt.Errorf("%s: more than one top-level directory (%s and %s): the importer opens the first entry's <top>/metadata.json", s.x.file, quote(s.top+"/"), quote(top+"/"))}
	}
	if !nested {
		return nil
	}
	switch kind {
	case entrySymlink, entryHardlink:
		s.problems = append(s.problems, fmt.Sprintf("entry %s is a link: RAM packages hold none (airpack refuses such a package)", quote(raw)))
		return nil
	case entryFile:
	default:
		return nil
	}
	depth := strings.Count(rest, "/") + 1
	switch {
	case rest == "airpack.json":
		s.bundle = true
		return errStopScan
	case rest == MetadataFile:
		b, err := io.ReadAll(io.LimitReader(body, maxMetadataSize+1))
		if err != nil {
			return err
		}
		if len(b) > maxMetadataSize {
			return abort{fmt.Errorf("%s: %s is larger than %d MiB: not a plausible template", s.x.file, raw, maxMetadataSize>>20)}
		}
		s.metadata = b
	case depth <= 2 && strings.HasSuffix(rest, legacyImageTarSuffix):
		names, groups, err := imageNamesFrom(body)
		var rerr readErr
		switch {
		case errors.As(err, &rerr):
			return rerr.err
		case err != nil:
			s.problems = append(s.problems, fmt.Sprintf("%s: %v", rest, err))
			return nil
		}
		s.images[rest], s.groups[rest] = names, groups
		s.order = append(s.order, rest)
	}
	return nil
}

// imageNamesFrom is readImageNames on a stream: it reads the image archive to its end. It
// returns its images too, each as the names it has (imageGroups).
func imageNamesFrom(r io.Reader) (*imageNames, [][]string, error) {
	n := &imageNames{norm: map[string]bool{}}
	var g imageGroups
	found := false
	tr := tar.NewReader(&errTagger{r: r})
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var rerr readErr
			if errors.As(err, &rerr) {
				return nil, nil, rerr
			}
			return nil, nil, fmt.Errorf("not a readable image archive: %w", err)
		}
		entry := path.Clean(h.Name)
		if entry != "manifest.json" && entry != "index.json" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, nil, err
		}
		if _, err := namesFromEntry(entry, bytes.NewReader(b), n.add); err != nil {
			return nil, nil, err
		}
		g.add(entry, b)
		found = true
	}
	slices.Sort(n.names)
	// The outer archive continues after this entry: read what the inner tar left (padding).
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, nil, readErr{err}
	}
	if !found {
		return nil, nil, errors.New("not an image archive: it has neither a manifest.json (docker save) nor an index.json (OCI)")
	}
	return n, g.images(), nil
}

// imageGroups collects the images of one image archive from its manifest.json (an entry, or
// entries sharing a config, is an image) and its index.json (descriptors of one manifest are
// an image), each as the names it has: names the engine takes for one (normRef) join two into
// one image, so that an archive listing its images in both files counts each once.
type imageGroups struct {
	sets     [][]string
	manifest bool // a manifest.json was read
	unnamed  [][]string
}

func (g *imageGroups) add(entry string, b []byte) {
	switch entry {
	case "manifest.json":
		g.manifest = true
		var m []struct {
			Config   string
			RepoTags []string
		}
		if json.Unmarshal(b, &m) != nil {
			return // namesFromEntry's error
		}
		byConfig := map[string]int{}
		for _, e := range m {
			if k, ok := byConfig[e.Config]; ok && e.Config != "" {
				g.sets[k] = append(g.sets[k], e.RepoTags...)
				continue
			}
			byConfig[e.Config] = len(g.sets)
			g.sets = append(g.sets, slices.Clone(e.RepoTags))
		}
	case "index.json":
		var idx struct {
			Manifests []struct {
				Digest      string
				Annotations map[string]string
			}
		}
		if json.Unmarshal(b, &idx) != nil {
			return
		}
		byDigest := map[string]int{}
		var sets [][]string
		for _, d := range idx.Manifests {
			// The names namesFromEntry takes.
			var names []string
			if n := d.Annotations["io.containerd.image.name"]; n != "" {
				names = append(names, n)
			}
			if n := d.Annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
				names = append(names, n)
			}
			if k, ok := byDigest[d.Digest]; ok {
				sets[k] = append(sets[k], names...)
				continue
			}
			byDigest[d.Digest] = len(sets)
			sets = append(sets, names)
		}
		for _, set := range sets {
			if len(set) == 0 {
				g.unnamed = append(g.unnamed, set)
				continue
			}
			g.sets = append(g.sets, set)
		}
	}
}

// images merges the sets sharing a name: each image once, its names each once in the shortest
// spelling, sorted. An unnamed OCI descriptor counts only in an archive without a
// manifest.json, which would list the image (untagged) itself.
func (g *imageGroups) images() [][]string {
	sets := g.sets
	if !g.manifest {
		sets = append(sets, g.unnamed...)
	}
	var out [][]string
	owner := map[string]int{} // normRef -> index in out
	for _, set := range sets {
		into := -1
		for _, n := range set {
			if k, ok := owner[normRef(n)]; ok {
				into = k
				break
			}
		}
		if into < 0 {
			into = len(out)
			out = append(out, nil)
		}
		for _, n := range set {
			k, ok := owner[normRef(n)]
			switch {
			case !ok:
				owner[normRef(n)] = into
				out[into] = append(out[into], n)
			case k == into:
				// A spelling of a name it has: keep the shortest.
				for j, m := range out[into] {
					if normRef(m) == normRef(n) && (len(n) < len(m) || len(n) == len(m) && n < m) {
						out[into][j] = n
					}
				}
			}
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// report fills r from what the scan found.
func (s *scanner) report(r *PackageReport) error {
	file := s.x.file
	switch {
	case s.bundle:
		return fmt.Errorf("%s is an airpack bundle: %w", file, ErrNotPackage)
	case s.top == "":
		return fmt.Errorf("%s is an empty archive: %w", file, ErrNotPackage)
	case s.metadata == nil:
		return fmt.Errorf("%s has no %s in %s: %w", file, MetadataFile, quote(s.top+"/"), ErrNotPackage)
	}
	t, err := DecodeMetadata(s.metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	r.Dir = s.top
	r.GroupName, r.GroupVersion, r.GroupKey = t.GroupName, t.GroupVersion, t.GroupKey
	r.TemplateVersion, r.GovernanceMode = t.TemplateVersion, t.GovernanceMode
	for _, p := range t.Plugins {
		r.Plugins = append(r.Plugins, p.PluginName)
	}
	for _, g := range t.AppConfigGroups {
		r.ConfigGroups = append(r.ConfigGroups, g.Name)
	}

	// The archives the importer loads: plugin tars count only when there are plugins. A tar a
	// directory down holding a plugin's image, or named as Rainbond 5.2 named a plugin's
	// (<plugin_name>/<image>.image.tar), is a plugin's; in a 5.2 package the others are the
	// components'.
	component := &imageNames{norm: map[string]bool{}}
	plugins := &imageNames{norm: map[string]bool{}}
	pluginFiles := map[string]bool{} // legacyFileName of each plugin image
	for i := range t.Plugins {
		pluginFiles[legacyFileName(t.Plugins[i].ShareImage)] = true
	}
	isPlugin := func(rest string) bool {
		if len(t.Plugins) == 0 || !strings.Contains(rest, "/") {
			return false
		}
		for i := range t.Plugins {
			if ref := t.Plugins[i].ShareImage; s.images[rest].has(ref) || s.images[rest].has(LegacySaveName(ref)) {
				return true
			}
		}
		if !pluginFiles[path.Base(rest)] {
			return false
		}
		for i := range t.Apps {
			if ref := t.Apps[i].ShareImage; s.images[rest].has(ref) || s.images[rest].has(LegacySaveName(ref)) {
				return false
			}
		}
		return true
	}
	r.Layout = LayoutCurrent
	_, current := s.images[ComponentImagesFile]
	if !current && len(s.order) > 0 && len(t.Apps) > 0 {
		r.Layout = LayoutLegacy52
	}
	var componentTars []string
	pluginFilesFound := map[string]bool{}
	r.Images = []ImageReport{}
	for _, rest := range s.order {
		into := component
		switch {
		case rest == PluginImagesFile || rest == OldPluginImagesFile || isPlugin(rest):
			into = plugins
			pluginFilesFound[path.Base(rest)] = true
		case current && rest != ComponentImagesFile:
			continue
		default:
			componentTars = append(componentTars, rest)
			for _, names := range s.groups[rest] {
				if names == nil {
					names = []string{}
				}
				r.Images = append(r.Images, ImageReport{Names: names, Archive: rest})
			}
		}
		for _, n := range s.images[rest].names {
			if !slices.Contains(into.names, n) {
				into.names = append(into.names, n)
				into.norm[normRef(n)] = true
			}
		}
	}
	slices.SortStableFunc(r.Images, func(a, b ImageReport) int {
		return strings.Compare(strings.Join(a.Names, "\x00"), strings.Join(b.Names, "\x00"))
	})

	if len(t.Apps) > 0 && len(s.order) == 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("no %s: the package holds no images", ComponentImagesFile))
	}
	for i := range t.Plugins {
		ref := t.Plugins[i].ShareImage
		if !plugins.has(ref) && !plugins.has(LegacySaveName(ref)) && !pluginFilesFound[legacyFileName(ref)] {
			r.Problems = append(r.Problems, fmt.Sprintf("plugins[%d] (plugin_name %s): share_image %s is in no plugin image archive", i, quote(t.Plugins[i].PluginName), ref))
		}
	}
	r.Problems = append(r.Problems, pluginPathProblems(t, s.x.file, s.top, componentTars)...)
	r.Problems = append(r.Problems, ImportProblems(t)...)
	// The platform's rules: what it does not repair is a problem, what it repairs a note.
	r.Notes = []string{}
	for _, p := range platformProblems(t) {
		if p.refuse {
			r.Problems = append(r.Problems, problemLine(t, p, nil))
		} else {
			r.Notes = append(r.Notes, problemLine(t, p, nil))
		}
	}
	cname := map[string]string{}
	for i := range t.Apps {
		a := &t.Apps[i]
		cname[a.ServiceShareUUID], cname[a.ServiceKey] = a.ServiceCname, a.ServiceCname
	}
	for i := range t.Apps {
		a := &t.Apps[i]
		c := ComponentReport{
			Cname: a.ServiceCname, ServiceKey: a.ServiceKey, ShareImage: a.ShareImage,
			ImageFound:   component.has(a.ShareImage) || component.has(LegacySaveName(a.ShareImage)),
			ExtendMethod: a.ExtendMethod, Memory: a.PlatformMemory(), CPU: a.PlatformCPU(), VM: a.IsVM(),
			Env: len(a.ServiceEnvMapList), ConnectInfo: len(a.ServiceConnectInfoMapList),
			Ports: []PortReport{}, Dependencies: []string{}, Volumes: []VolumeReport{},
			Cmd: a.Cmd, Replicas: a.PlatformReplicas(), Readiness: readiness(a),
		}
		if len(a.PortMapList) > 0 {
			c.ServiceName = a.PortMapList[0].K8sServiceName
		}
		if a.Image != "" && normRef(a.Image) != normRef(a.ShareImage) {
			c.Image = a.Image
		}
		if c.VM {
			r.Problems = append(r.Problems, fmt.Sprintf("%s is a virtual machine (%s): docker compose cannot run one (airpack pack --ram refuses the package)", componentLabel(i, a), vmMarker(a)))
			if a.VM != nil && !slices.ContainsFunc(a.VM.DiskLayout, func(d VMDiskLayout) bool { return d.DiskRole == "root" }) {
				r.Problems = append(r.Problems, fmt.Sprintf("%s: vm.disk_layout has no root disk: the importer refuses the package", componentLabel(i, a)))
			}
		}
		if !c.ImageFound && len(s.order) > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: share_image %s is not in the package's images", componentLabel(i, a), a.ShareImage))
		}
		for _, p := range a.PortMapList {
			c.Ports = append(c.Ports, PortReport{p.ContainerPort, p.Protocol, p.PortAlias, p.IsInnerService, p.IsOuterService})
		}
		for _, d := range a.DepServiceMapList {
			n, ok := cname[d.DepServiceKey]
			if !ok {
				n = d.DepServiceKey
				r.Problems = append(r.Problems, fmt.Sprintf("%s: dep_service_key %s names no component", componentLabel(i, a), quote(d.DepServiceKey)))
			}
			c.Dependencies = append(c.Dependencies, n)
		}
		for _, v := range a.ServiceVolumeMapList {
			vr := VolumeReport{Name: v.VolumeName, Path: v.VolumePath, Type: v.VolumeType, Capacity: v.VolumeCapacity, AccessMode: v.AccessMode}
			if v.VolumeType == VolumeConfigFile {
				vr.Size = len(v.FileContent)
				if vr.Size > maxConfigFileSize {
					r.Problems = append(r.Problems, fmt.Sprintf("%s: config file %s (%s) holds %d bytes, more than the %d MiB a Kubernetes ConfigMap holds: the platform fails to deploy it", componentLabel(i, a), quote(v.VolumeName), v.VolumePath, vr.Size, maxConfigFileSize>>20))
				}
			}
			c.Volumes = append(c.Volumes, vr)
		}
		for _, m := range a.MntRelationList {
			n, ok := cname[m.ServiceShareUUID]
			if !ok {
				n = m.ServiceShareUUID
			}
			c.Mounts = append(c.Mounts, MountReport{Component: n, Volume: m.MntName, Path: m.MntDir})
		}
		r.Components = append(r.Components, c)
	}
	if r.Components == nil {
		r.Components = []ComponentReport{}
	}
	r.Problems = append(slices.Clone(s.problems), r.Problems...)
	if r.Problems == nil {
		r.Problems = []string{}
	}
	return nil
}

// readiness is the probe the platform's worker runs for a: the first with mode readiness and
// is_used (docs/ram-format.md §8.3), its port defaulting to the first port.
func readiness(a *Component) *ProbeReport {
	for _, p := range a.Probes {
		if !p.IsUsed || p.Mode != "readiness" {
			continue
		}
		r := &ProbeReport{Scheme: p.Scheme}
		switch p.Scheme {
		case "cmd":
			r.Cmd = p.Cmd
		default:
			r.Port = p.Port
			if r.Port == 0 && len(a.PortMapList) > 0 {
				r.Port = a.PortMapList[0].ContainerPort
			}
			if p.Scheme == "http" {
				r.Path = p.Path
			}
		}
		return r
	}
	return nil
}

// WriteText writes the report for people.
func (r *PackageReport) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("RAM package %s (%s, %s layout, directory %s)\n", r.File, r.Format, r.Layout, r.Dir)
	ew.printf("template      %s %s (group_key %s, template_version %s, %s)\n", r.GroupName, r.GroupVersion, r.GroupKey, r.TemplateVersion, r.GovernanceMode)
	if len(r.Plugins) > 0 {
		ew.printf("plugins       %s\n", strings.Join(r.Plugins, ", "))
	}
	if len(r.ConfigGroups) > 0 {
		ew.printf("config groups %s\n", strings.Join(r.ConfigGroups, ", "))
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "COMPONENT\tSERVICE KEY\tSHARE IMAGE\tIN PACKAGE\tDEPLOY\tREPLICAS\tMEMORY\tCPU\n")
	for _, c := range r.Components {
		found := "yes"
		if !c.ImageFound {
			found = "NO"
		}
		mem, cpu := "-", "-"
		if c.Memory > 0 {
			mem = strconv.Itoa(c.Memory) + " MB"
		}
		if c.CPU > 0 {
			cpu = strconv.Itoa(c.CPU) + "m"
		}
		replicas := strconv.Itoa(c.Replicas)
		if c.Replicas < 0 {
			replicas = "per node"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Cname, c.ServiceKey, c.ShareImage, found, c.ExtendMethod, replicas, mem, cpu)
	}
	tw.Flush()
	for _, c := range r.Components {
		ew.printf("\n%s\n", c.Cname)
		reached := "- (no ports: no Kubernetes Service)"
		if c.ServiceName != "" {
			reached = c.ServiceName + " (k8s_service_name)"
		}
		ew.printf("  reached as    %s\n", reached)
		if c.Image != "" {
			ew.printf("  image         %s\n", c.Image)
		}
		if c.Cmd != "" {
			ew.printf("  cmd           %s\n", c.Cmd)
		}
		ew.printf("  readiness     %s\n", c.Readiness.text())
		var ports []string
		for _, p := range c.Ports {
			where := []string{}
			if p.Inner {
				where = append(where, "inner")
			}
			if p.Outer {
				where = append(where, "outer")
			}
			if len(where) == 0 {
				where = append(where, "closed")
			}
			alias := ""
			if p.Alias != "" {
				alias = " " + p.Alias
			}
			ports = append(ports, fmt.Sprintf("%d/%s%s (%s)", p.Port, p.Protocol, alias, strings.Join(where, ", ")))
		}
		ew.printf("  ports         %s\n", orNone(ports))
		ew.printf("  environment   %s, %s\n", nWord(c.Env, "variable", "variables"), nWord(c.ConnectInfo, "connection variable", "connection variables"))
		ew.printf("  depends on    %s\n", orNone(c.Dependencies))
		var vols []string
		for _, v := range c.Volumes {
			var extra []string
			if v.Capacity > 0 {
				extra = append(extra, strconv.Itoa(v.Capacity)+" GiB")
			}
			if v.AccessMode != "" {
				extra = append(extra, v.AccessMode)
			}
			if v.Type == VolumeConfigFile {
				extra = append(extra, strconv.Itoa(v.Size)+" bytes")
			}
			s := fmt.Sprintf("%s %s at %s", v.Type, v.Name, v.Path)
			if len(extra) > 0 {
				s += " (" + strings.Join(extra, ", ") + ")"
			}
			vols = append(vols, s)
		}
		for _, m := range c.Mounts {
			vols = append(vols, fmt.Sprintf("%s of %s at %s", m.Volume, m.Component, m.Path))
		}
		ew.printf("  volumes       %s\n", orNone(vols))
	}
	ew.printf("\nimages (%d)\n", len(r.Images))
	for _, im := range r.Images {
		names := strings.Join(im.Names, ", ")
		if names == "" {
			names = "(untagged)"
		}
		if im.Archive != ComponentImagesFile {
			names += " [" + im.Archive + "]"
		}
		ew.printf("  %s\n", names)
	}
	if len(r.Problems) == 0 {
		ew.printf("\nproblems: none\n")
	} else {
		ew.printf("\nproblems (%d): the import fails or the application breaks\n", len(r.Problems))
		for _, p := range r.Problems {
			ew.printf("  %s\n", p)
		}
	}
	if len(r.Notes) > 0 {
		ew.printf("\nnotes (%d): the platform repairs or ignores these\n", len(r.Notes))
		for _, p := range r.Notes {
			ew.printf("  %s\n", p)
		}
	}
	return ew.err
}

// text is the probe for people: "tcp port 3306", "http port 8080 path /health", "cmd: …".
func (p *ProbeReport) text() string {
	switch {
	case p == nil:
		return "-"
	case p.Scheme == "cmd":
		return "cmd: " + p.Cmd
	case p.Scheme != "tcp" && p.Scheme != "http":
		return p.Scheme + " (the platform runs no such probe)"
	}
	s := p.Scheme + " port " + strconv.Itoa(p.Port)
	if p.Scheme == "http" {
		pth := p.Path
		if !strings.HasPrefix(pth, "/") {
			pth = "/" + pth
		}
		s += " path " + pth
	}
	return s
}

// nWord is n with the noun for it: "1 plugin", "2 plugins".
func nWord(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, "; ")
}

// errWriter keeps the first write error, so a report is written without checking each line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
