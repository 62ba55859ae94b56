package jpegset

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DefaultSourceDirs returns where Debian wallpaper packages install their
// images (mate-backgrounds, plasma-workspace-wallpapers, gnome-backgrounds).
func DefaultSourceDirs() []string {
	return []string{"/usr/share/backgrounds", "/usr/share/wallpapers"}
}

// sizeSuffix matches the "_3840x2160" that wallpaper packages append to
// other resolutions of the same picture.
var sizeSuffix = regexp.MustCompile(`_\d+x\d+$`)

// FindPhotographs lists the JPEG files under dirs (missing dirs are skipped),
// sorted, one per picture: "Elephants_3840x2160.jpg" is dropped when
// "Elephants.jpg" is present. Wallpaper PNGs are left out because they are
// mostly flat-colour artwork, not photographs.
func FindPhotographs(dirs []string) ([]string, error) {
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				if path == d {
					return filepath.SkipDir
				}
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if !e.IsDir() && (ext == ".jpg" || ext == ".jpeg") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		stem := strings.TrimSuffix(f, filepath.Ext(f))
		key := sizeSuffix.ReplaceAllString(stem, "")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, f)
	}
	return out, nil
}
