package main

import (
	"archive/tar"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"sort"
	"strings"
)

// A layer's tree is planned first (names, types, sizes, kinds), then sorted the way a
// directory walk lists it and written. The plans follow what real images hold: a Debian base
// with its packages (binaries, shared libraries with their soname symlinks, docs, man pages,
// locales, dpkg's lists), a Python runtime (modules with their .pyc, extension modules), and on
// top, per image, its dependencies (node_modules, site-packages, more Debian packages, or a
// static binary with its web assets) and its own code. Sizes are drawn from log-normal laws
// per kind of file, so most files are small (median a few KiB, many under 1 KiB) and a few
// binaries and libraries reach several MiB, as in Debian's /usr.

// entry is one member of a layer.
type entry struct {
	name string // no leading or trailing slash
	typ  byte   // tar.TypeReg, TypeDir, TypeSymlink, TypeLink
	mode int64
	size int64
	kind kind
	link string // symlink target, or the hard link's target member
}

// planner builds a layer's entries until its budget of file bytes is spent.
type planner struct {
	r       *rand.Rand
	left    int64 // file bytes left
	entries []entry
	names   map[string]bool // every member's name
	dirs    map[string]bool // the directories among them
	used    map[string]bool // names handed out by name()
}

func newPlanner(r *rand.Rand, budget int64) *planner {
	return &planner{r: r, left: budget, names: map[string]bool{}, dirs: map[string]bool{}, used: map[string]bool{}}
}

func (p *planner) full() bool { return p.left <= 0 }

func (p *planner) chance(f float64) bool { return p.r.Float64() < f }

// between returns an int in [lo, hi].
func (p *planner) between(lo, hi int) int { return lo + p.r.IntN(hi-lo+1) }

// geom returns a count >= 1 with the given mean and a long tail.
func (p *planner) geom(mean float64) int {
	return 1 + int(-math.Log(1-p.r.Float64())*(mean-1))
}

// logn draws a size from a log-normal law of the given median and sigma, clamped to [lo, hi].
func (p *planner) logn(median, sigma float64, lo, hi int64) int64 {
	return max(lo, min(hi, int64(median*math.Exp(sigma*p.r.NormFloat64()))))
}

// mkdir adds dir and its missing parents; false when a non-directory holds one of the names.
func (p *planner) mkdir(dir string) bool {
	if dir == "." || dir == "" || p.dirs[dir] {
		return true
	}
	if p.names[dir] || !p.mkdir(path.Dir(dir)) {
		return false
	}
	p.names[dir], p.dirs[dir] = true, true
	mode := int64(0o755)
	switch dir {
	case "tmp", "var/tmp":
		mode = 0o1777
	case "root":
		mode = 0o700
	}
	p.entries = append(p.entries, entry{name: dir, typ: tar.TypeDir, mode: mode})
	return true
}

// add adds a non-directory member unless its name is taken (or a parent's name is a file);
// false when it is.
func (p *planner) add(e entry) bool {
	if p.names[e.name] || !p.mkdir(path.Dir(e.name)) {
		return false
	}
	p.names[e.name] = true
	p.entries = append(p.entries, e)
	return true
}

// file adds a regular file of at most size bytes (what the budget has left).
func (p *planner) file(name string, k kind, size int64, mode int64) bool {
	if p.full() {
		return false
	}
	size = min(size, p.left)
	if !p.add(entry{name: name, typ: tar.TypeReg, mode: mode, size: size, kind: k}) {
		return false
	}
	p.left -= size
	return true
}

func (p *planner) symlink(name, target string) {
	p.add(entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target})
}

// hardlink adds name as a hard link to the member target (name sorts after target: see sortEntries).
func (p *planner) hardlink(name, target string) {
	if p.names[target] {
		p.add(entry{name: name, typ: tar.TypeLink, mode: 0o755, link: target})
	}
}

var syllables = strings.Fields("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go " +
	"ha he hi ho ka ke ki ko la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re " +
	"ri ro ru sa se si so su ta te ti to tu va ve vi vo xa xe za ze zi zo al an ar as at el en er " +
	"es ex il in is it ol on or os ut um st tr ch sh th gr pl br cr fl")

// word is a lower-case word of 1-4 syllables.
func (p *planner) word() string {
	var b strings.Builder
	for range 1 + p.r.IntN(2) + p.r.IntN(3)/2 {
		b.WriteString(syllables[p.r.IntN(len(syllables))])
	}
	return b.String()
}

// name is a word (sometimes two, joined by sep) not handed out before in this layer.
func (p *planner) name(sep string) string {
	for i := 0; ; i++ {
		n := p.word()
		if p.chance(0.3) {
			n += sep + p.word()
		}
		if i > 20 {
			n += fmt.Sprint(i)
		}
		if !p.used[n] {
			p.used[n] = true
			return n
		}
	}
}

// version is a version string such as 2.14.1.
func (p *planner) version() string {
	return fmt.Sprintf("%d.%d.%d", p.r.IntN(5), p.r.IntN(30), p.r.IntN(12))
}

// ---- the base layer: Debian and a Python runtime --------------------------------------------

const (
	multiarch = "usr/lib/x86_64-linux-gnu"
	pyLib     = "usr/lib/python3.12"
	pyTag     = "cpython-312"
	pyExt     = ".cpython-312-x86_64-linux-gnu.so"
)

var languages = strings.Fields("af am ar as ast be bg bn br bs ca cs cy da de el en_AU en_CA en_GB eo es et eu fa fi " +
	"fr ga gl gu he hi hr hu hy id is it ja ka kk km kn ko lt lv mk ml mr ms nb ne nl nn oc pa pl pt pt_BR ro " +
	"ru si sk sl sq sr sv ta te th tr uk vi zh_CN zh_TW")

// planBase: a Debian-like system (about 55% of the bytes) and a Python runtime.
func planBase(p *planner) {
	for _, d := range []string{"boot", "dev", "home", "media", "mnt", "opt", "proc", "root", "run", "srv", "sys", "tmp",
		"usr/bin", "usr/sbin", "usr/lib64", "usr/libexec", "usr/local/bin", "usr/local/lib", "usr/local/share", "usr/src",
		"var/backups", "var/cache/apt/archives/partial", "var/lib/apt/lists", "var/lib/misc", "var/log/apt", "var/mail",
		"var/spool", "var/tmp"} {
		p.mkdir(d)
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		p.symlink(l, "usr/"+l)
	}
	planEtc(p)
	planZoneinfo(p)
	runtime := p.left * 45 / 100
	for p.left > runtime {
		debPackage(p)
	}
	p.file("var/lib/dpkg/status", kText, p.logn(1<<20, 0.3, 64<<10, 4<<20), 0o644)
	p.file("var/cache/debconf/templates.dat", kText, p.logn(700<<10, 0.3, 64<<10, 4<<20), 0o644)
	pythonRuntime(p)
}

func planEtc(p *planner) {
	for range 120 {
		dir := "etc"
		if p.chance(0.6) {
			dir += "/" + p.word()
			if p.chance(0.4) {
				dir += "/" + p.word() + ".d"
			}
		}
		p.file(dir+"/"+p.word()+[]string{"", ".conf", ".conf", ".cfg", ".list", ".sh"}[p.r.IntN(6)], kText, p.logn(600, 1.1, 8, 40<<10), 0o644)
	}
	// ca-certificates: the PEM files, and hash-named symlinks to them.
	for range 140 {
		n := p.name("_")
		pem := "usr/share/ca-certificates/mozilla/" + n + ".crt"
		p.file(pem, kText, p.logn(1900, 0.2, 700, 4096), 0o644)
		link := "etc/ssl/certs/" + n + ".pem"
		p.symlink(link, "/"+pem)
		p.symlink(fmt.Sprintf("etc/ssl/certs/%08x.0", p.r.Uint32()), n+".pem")
	}
	p.file("etc/ssl/certs/ca-certificates.crt", kText, 210<<10, 0o644)
}

func planZoneinfo(p *planner) {
	var zones []string
	for _, region := range []string{"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "Etc"} {
		for range p.between(10, 70) {
			z := "usr/share/zoneinfo/" + region + "/" + strings.ToUpper(p.word()[:1]) + p.word()
			if p.chance(0.08) {
				z += "/" + strings.ToUpper(p.word()[:1]) + p.word()
			}
			if p.file(z, kMixed, p.logn(1200, 0.5, 114, 3500), 0o644) {
				zones = append(zones, z)
			}
		}
	}
	for range 60 {
		if len(zones) > 0 {
			z := zones[p.r.IntN(len(zones))]
			p.symlink("usr/share/zoneinfo/"+strings.ToUpper(p.word()[:1])+p.word(), "../"+strings.TrimPrefix(z, "usr/share/"))
		}
	}
}

// debPackage installs one Debian package: docs, binaries and man pages, libraries, locales,
// data files, headers, and its lists under var/lib/dpkg/info.
func debPackage(p *planner) {
	start := len(p.entries)
	pkg := p.name("-")
	doc := "usr/share/doc/" + pkg
	p.file(doc+"/copyright", kText, p.logn(2000, 1.0, 100, 80<<10), 0o644)
	if p.chance(0.8) {
		p.file(doc+"/changelog.Debian.gz", kRandom, p.logn(1500, 1.0, 150, 60<<10), 0o644)
	}
	if p.chance(0.15) {
		p.file(doc+"/NEWS.Debian.gz", kRandom, p.logn(1000, 0.8, 100, 20<<10), 0o644)
		p.file(doc+"/README"+[]string{"", ".md", ".Debian"}[p.r.IntN(3)], kText, p.logn(3000, 1.0, 100, 60<<10), 0o644)
	}
	for i := range []int{0, 0, 0, 1, 1, 1, 2, 3, 5}[p.r.IntN(9)] {
		cmd := pkg
		if i > 0 {
			cmd = p.name("-")
		}
		bin := "usr/bin/" + cmd
		if p.chance(0.15) {
			bin = "usr/sbin/" + cmd
		}
		if p.chance(0.2) { // a script
			p.file(bin, kText, p.logn(3000, 1.2, 60, 200<<10), 0o755)
		} else {
			p.file(bin, kBinary, p.logn(40<<10, 1.5, 6<<10, 14<<20), 0o755)
		}
		sec := []string{"1", "1", "1", "8", "5"}[p.r.IntN(5)]
		p.file("usr/share/man/man"+sec+"/"+cmd+"."+sec+".gz", kRandom, p.logn(2500, 0.8, 300, 60<<10), 0o644)
		switch {
		case p.chance(0.08):
			p.symlink("usr/bin/"+p.name("-"), cmd)
		case p.chance(0.02): // perl and perl5.36.0: one inode, two names
			p.hardlink(bin+"-"+p.version(), bin)
		}
	}
	if p.chance(0.4) {
		for range p.between(1, 3) {
			major := p.between(0, 9)
			so := fmt.Sprintf("%s/lib%s.so.%d", multiarch, p.name(""), major)
			real := fmt.Sprintf("%s.%d.%d", so, p.r.IntN(40), p.r.IntN(9))
			p.file(real, kBinary, p.logn(150<<10, 1.5, 8<<10, 16<<20), 0o644)
			p.symlink(so, path.Base(real))
		}
	}
	if p.chance(0.12) {
		langs := p.between(8, len(languages))
		for _, l := range languages[:langs] {
			p.file("usr/share/locale/"+l+"/LC_MESSAGES/"+pkg+".mo", kMixed, p.logn(15<<10, 0.8, 400, 400<<10), 0o644)
		}
	}
	if p.chance(0.35) {
		dirs := []string{"usr/share/" + pkg}
		for range p.geom(25) {
			d := dirs[p.r.IntN(len(dirs))]
			if p.chance(0.15) && strings.Count(d, "/") < 6 {
				d += "/" + p.word()
				dirs = append(dirs, d)
			}
			if p.chance(0.12) {
				p.file(d+"/"+p.word()+[]string{".png", ".gz", ".ogg", ".ttf"}[p.r.IntN(4)], kRandom, p.logn(4000, 1.3, 100, 4<<20), 0o644)
			} else {
				p.file(d+"/"+p.word()+[]string{".xml", ".txt", ".conf", ".json", ".pl", ".pm", ".sh", ""}[p.r.IntN(8)], kText, p.logn(1400, 1.5, 10, 2<<20), 0o644)
			}
		}
	}
	if p.chance(0.08) {
		for range p.geom(12) {
			p.file("usr/include/"+pkg+"/"+p.word()+".h", kText, p.logn(4000, 1.1, 80, 400<<10), 0o644)
		}
	}
	// dpkg's file list and checksums, sized from what the package installed.
	var list, sums int64
	for _, e := range p.entries[start:] {
		list += int64(len(e.name)) + 2
		if e.typ == tar.TypeReg {
			sums += int64(len(e.name)) + 35
		}
	}
	info := "var/lib/dpkg/info/" + pkg
	p.file(info+".list", kText, list, 0o644)
	p.file(info+".md5sums", kText, sums, 0o644)
	if p.chance(0.25) {
		p.file(info+"."+[]string{"postinst", "prerm", "postrm", "preinst", "triggers", "conffiles"}[p.r.IntN(6)], kText, p.logn(900, 0.8, 30, 20<<10), 0o755)
	}
}

// pythonRuntime: the interpreter and its library, then standard-library packages until the
// budget is spent.
func pythonRuntime(p *planner) {
	p.file(multiarch+"/libpython3.12.so.1.0", kBinary, p.logn(7<<20, 0.1, 1<<20, 9<<20), 0o644)
	p.symlink(multiarch+"/libpython3.12.so.1", "libpython3.12.so.1.0")
	p.file("usr/bin/python3.12", kBinary, p.logn(6<<20, 0.1, 1<<20, 8<<20), 0o755)
	p.symlink("usr/bin/python3", "python3.12")
	for range 70 {
		p.file(pyLib+"/lib-dynload/_"+p.name("_")+pyExt, kBinary, p.logn(60<<10, 1.0, 14<<10, 3<<20), 0o644)
	}
	for !p.full() {
		pyPackage(p, pyLib+"/"+p.name("_"), 0)
	}
}

// pyPackage: a Python package directory with its modules, their .pyc, subpackages and a few
// data files.
func pyPackage(p *planner, dir string, depth int) {
	pyModule(p, dir, "__init__", p.chance(0.4))
	for range p.geom(7) {
		pyModule(p, dir, p.name("_"), false)
	}
	if p.chance(0.1) {
		for range p.geom(4) {
			k, ext := kText, []string{".txt", ".json", ".cfg", ".html", ".csv"}[p.r.IntN(5)]
			if p.chance(0.3) {
				k, ext = kRandom, []string{".png", ".gz", ".bin"}[p.r.IntN(3)]
			}
			p.file(dir+"/data/"+p.word()+ext, k, p.logn(2000, 1.5, 10, 1<<20), 0o644)
		}
	}
	if depth < 4 {
		for range []int{0, 0, 0, 1, 1, 2, 3}[p.r.IntN(7)] {
			pyPackage(p, dir+"/"+p.name("_"), depth+1)
		}
	}
}

// pyModule: name.py and __pycache__/name.cpython-312.pyc (about 60% of the source's size).
func pyModule(p *planner, dir, name string, empty bool) {
	size := p.logn(3200, 1.4, 20, 600<<10)
	if empty {
		size = 0
	}
	if p.file(dir+"/"+name+".py", kText, size, 0o644) {
		p.file(dir+"/__pycache__/"+name+"."+pyTag+".pyc", kMixed, 120+size*6/10, 0o644)
	}
}

// ---- an image's own layers -------------------------------------------------------------------

// flavors are the kinds of dependency layer, given to the images in turn.
var flavors = []struct {
	name string
	plan func(*planner)
	ext  []string // the source files of the app layer on top
}{
	{"node", planNode, []string{".js", ".js", ".ts", ".json", ".css", ".html"}},
	{"python", planSitePackages, []string{".py", ".py", ".py", ".html", ".txt", ".yaml"}},
	{"debian", planDebExtras, []string{".rb", ".sh", ".conf", ".erb", ".yml"}},
	{"static", planStatic, []string{".go", ".go", ".tmpl", ".sql", ".md"}},
}

// planNode: the node binary and npm, then node_modules packages.
func planNode(p *planner) {
	p.file("usr/local/bin/node", kBinary, min(p.left/5, p.logn(12<<20, 0.1, 1<<20, 14<<20)), 0o755)
	p.symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
	p.symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
	p.file("usr/local/lib/node_modules/npm/bin/npm-cli.js", kText, 60, 0o755)
	p.file("usr/local/lib/node_modules/npm/bin/npx-cli.js", kText, 60, 0o755)
	nodePackage(p, "usr/local/lib/node_modules/npm", 0)
	for !p.full() {
		nodePackage(p, "app/node_modules/"+p.npmName(), 0)
	}
}

func (p *planner) npmName() string {
	if p.chance(0.15) {
		return "@" + p.word() + "/" + p.name("-")
	}
	return p.name("-")
}

func nodePackage(p *planner, dir string, depth int) {
	p.file(dir+"/package.json", kText, p.logn(1500, 0.6, 200, 20<<10), 0o644)
	if p.chance(0.85) {
		p.file(dir+"/README.md", kText, p.logn(4000, 1.2, 100, 200<<10), 0o644)
	}
	if p.chance(0.9) {
		p.file(dir+"/LICENSE", kText, p.logn(1100, 0.2, 500, 12<<10), 0o644)
	}
	if p.chance(0.25) {
		p.file(dir+"/CHANGELOG.md", kText, p.logn(8000, 1.2, 200, 400<<10), 0o644)
	}
	root := dir + []string{"", "/lib", "/dist", "/src", "/build"}[p.r.IntN(5)]
	dirs := []string{root}
	for range p.geom(14) {
		d := dirs[p.r.IntN(len(dirs))]
		if p.chance(0.2) && strings.Count(d, "/")-strings.Count(dir, "/") < 4 {
			d += "/" + p.word()
			dirs = append(dirs, d)
		}
		base := d + "/" + p.word()
		p.file(base+".js", kText, p.logn(2500, 1.3, 30, 3<<20), 0o644)
		if p.chance(0.35) {
			p.file(base+".d.ts", kText, p.logn(1200, 1.0, 30, 200<<10), 0o644)
		}
		if p.chance(0.15) {
			p.file(base+".js.map", kText, p.logn(5000, 1.2, 100, 2<<20), 0o644)
		}
	}
	if p.chance(0.03) {
		p.file(dir+"/build/Release/"+p.word()+".node", kBinary, p.logn(300<<10, 1.0, 30<<10, 8<<20), 0o755)
	}
	if depth == 0 && p.chance(0.1) {
		cli := dir + "/bin/" + p.word() + ".js"
		if p.file(cli, kText, p.logn(1500, 1.0, 50, 40<<10), 0o755) {
			nm := dir[:strings.LastIndex(dir, "node_modules/")+len("node_modules")]
			p.symlink(nm+"/.bin/"+p.name("-"), "../"+cli[len(nm)+1:])
		}
	}
	if depth < 2 && p.chance(0.08) {
		for range p.between(1, 3) {
			nodePackage(p, dir+"/node_modules/"+p.npmName(), depth+1)
		}
	}
}

// planSitePackages: pip-installed packages, with their dist-info and native extensions.
func planSitePackages(p *planner) {
	sp := "usr/local/lib/python3.12/site-packages"
	for !p.full() {
		pkg := p.name("_")
		start := len(p.entries)
		pyPackage(p, sp+"/"+pkg, 0)
		if p.chance(0.25) {
			for range p.geom(2) {
				p.file(sp+"/"+pkg+"/_"+p.name("_")+pyExt, kBinary, p.logn(400<<10, 1.5, 20<<10, 14<<20), 0o755)
			}
		}
		if p.chance(0.05) {
			for range p.between(1, 3) {
				p.file(fmt.Sprintf("%s/%s.libs/lib%s-%08x.so.%d", sp, pkg, p.word(), p.r.Uint32(), p.r.IntN(9)), kBinary, p.logn(2<<20, 0.8, 100<<10, 16<<20), 0o755)
			}
		}
		if p.chance(0.3) {
			p.file("usr/local/bin/"+p.name("-"), kText, p.logn(230, 0.2, 150, 600), 0o755)
		}
		info := fmt.Sprintf("%s/%s-%s.dist-info/", sp, pkg, p.version())
		p.file(info+"METADATA", kText, p.logn(6000, 1.0, 400, 200<<10), 0o644)
		p.file(info+"RECORD", kText, int64(len(p.entries)-start)*110, 0o644)
		p.file(info+"WHEEL", kText, p.logn(100, 0.1, 80, 200), 0o644)
		p.file(info+"INSTALLER", kText, 4, 0o644)
		p.file(info+"top_level.txt", kText, int64(len(pkg)+1), 0o644)
		if p.chance(0.7) {
			p.file(info+"LICENSE", kText, p.logn(1100, 0.5, 300, 30<<10), 0o644)
		}
		if p.chance(0.3) {
			p.file(info+"entry_points.txt", kText, p.logn(150, 0.8, 30, 4<<10), 0o644)
		}
	}
}

// planDebExtras: `apt-get install` of more packages (dpkg's status file rewritten).
func planDebExtras(p *planner) {
	p.file("var/lib/dpkg/status", kText, p.logn(1<<20, 0.3, 64<<10, 4<<20), 0o644)
	for !p.full() {
		debPackage(p)
	}
}

// planStatic: a statically linked server and a tool, then its web assets and templates.
func planStatic(p *planner) {
	app := p.name("")
	p.file("usr/local/bin/"+app, kBinary, min(p.left/4, p.logn(12<<20, 0.2, 2<<20, 16<<20)), 0o755)
	p.file("usr/local/bin/"+app+"ctl", kBinary, min(p.left/10, p.logn(4<<20, 0.3, 1<<20, 10<<20)), 0o755)
	share := "usr/share/" + app
	for !p.full() {
		d := share + "/" + []string{"static/js", "static/js", "static/css", "static/img", "templates", "templates", "migrations", "locales", "static/vendor", "static/vendor", "static/img", "static/fonts"}[p.r.IntN(12)]
		if p.chance(0.4) {
			d += "/" + p.word()
		}
		switch path.Base(path.Dir(d + "/x")) {
		case "img":
			p.file(d+"/"+p.word()+[]string{".png", ".jpg", ".webp"}[p.r.IntN(3)], kRandom, p.logn(4000, 1.4, 80, 2<<20), 0o644)
			p.file(d+"/"+p.word()+".svg", kText, p.logn(1500, 1.2, 80, 200<<10), 0o644)
		case "fonts":
			p.file(d+"/"+p.word()+".woff2", kRandom, p.logn(40<<10, 0.7, 4<<10, 400<<10), 0o644)
		default:
			p.file(d+"/"+p.word()+[]string{".js", ".css", ".html", ".sql", ".json"}[p.r.IntN(5)], kText, p.logn(3000, 1.4, 20, 2<<20), 0o644)
		}
	}
}

// planApp: the application's own code and configuration, the top layer of every image.
func planApp(p *planner, service string, ext []string) {
	p.file("etc/"+service+"/config.yaml", kText, p.logn(1500, 0.8, 100, 20<<10), 0o644)
	p.file("app/.dockerignore", kText, 80, 0o644)
	p.file("app/"+[]string{"README.md", "Makefile", "LICENSE"}[p.r.IntN(3)], kText, p.logn(3000, 0.8, 100, 20<<10), 0o644)
	dirs := []string{"app/src"}
	for !p.full() {
		d := dirs[p.r.IntN(len(dirs))]
		if p.chance(0.15) && strings.Count(d, "/") < 6 {
			d += "/" + p.word()
			dirs = append(dirs, d)
		}
		switch {
		case p.chance(0.03):
			p.file(d+"/.keep", kText, 0, 0o644)
		case p.chance(0.06):
			p.file(d+"/"+p.word()+[]string{".png", ".ico", ".pdf"}[p.r.IntN(3)], kRandom, p.logn(8000, 1.3, 100, 2<<20), 0o644)
		default:
			p.file(d+"/"+p.word()+ext[p.r.IntN(len(ext))], kText, p.logn(3500, 1.1, 20, 1<<20), 0o644)
		}
	}
}

// sortEntries puts the entries in the order of a directory walk (sorted names, each directory
// before what it holds) and makes sure every hard link comes after the member it names.
func sortEntries(es []entry) {
	key := func(n string) string { return strings.ReplaceAll(n, "/", "\x00") }
	sort.Slice(es, func(i, j int) bool { return key(es[i].name) < key(es[j].name) })
	at := map[string]int{}
	for i, e := range es {
		at[e.name] = i
	}
	for i, e := range es {
		if e.typ != tar.TypeLink {
			continue
		}
		if j := at[e.link]; j > i { // swap roles: the earlier name holds the data
			file := es[j]
			es[i], es[j] = file, e
			es[i].name, es[j].name, es[j].link = e.name, file.name, e.name
		}
	}
}
