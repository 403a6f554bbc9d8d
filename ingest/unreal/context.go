package unreal

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Property is one element of a section of CrashContext.runtime-xml.
type Property struct {
	Name  string
	Value string
}

// Context is CrashContext.runtime-xml: the sections of the root
// FGenericCrashContext element, each a list of simple elements, in file
// order.
type Context struct {
	RuntimeProperties  []Property
	PlatformProperties []Property
	EngineData         []Property
	GameData           []Property
}

// Get returns the value of the first property called name, and whether
// there is one.
func Get(props []Property, name string) (string, bool) {
	for _, p := range props {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// maxProperties bounds how many properties one section keeps.
const maxProperties = 10000

// ParseContext parses CrashContext.runtime-xml. It reads the children of
// RuntimeProperties, PlatformProperties, EngineData and GameData wherever
// these sections are, taking each child's text; other elements are
// skipped. The engine writes UTF-8; other declared encodings are read as
// UTF-8 rather than refused.
func ParseContext(data []byte) (*Context, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	c := &Context{}
	var section *[]Property
	sectionDepth := 0
	depth := 0
	var cur *Property
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return nil, fmt.Errorf("unreal: crash context XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case section == nil:
				switch t.Name.Local {
				case "RuntimeProperties":
					section = &c.RuntimeProperties
				case "PlatformProperties":
					section = &c.PlatformProperties
				case "EngineData":
					section = &c.EngineData
				case "GameData":
					section = &c.GameData
				}
				if section != nil {
					sectionDepth = depth
				}
			case depth == sectionDepth+1 && t.Name.Space == "":
				cur = &Property{Name: t.Name.Local}
				text.Reset()
			}
		case xml.CharData:
			if cur != nil && text.Len() < 1<<20 {
				text.Write(t)
			}
		case xml.EndElement:
			if cur != nil && depth == sectionDepth+1 {
				cur.Value = strings.TrimSpace(text.String())
				if len(*section) < maxProperties {
					*section = append(*section, *cur)
				}
				cur = nil
			}
			if section != nil && depth == sectionDepth {
				section = nil
			}
			depth--
		}
	}
}
