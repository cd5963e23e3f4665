package form_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-go/sluice/codec/form"
)

func ExampleParse() {
	f, err := form.Parse([]byte("name=Ada+Lovelace&lang=en&lang=fr&note=100%25"), form.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Get("name"), f.Values("lang"), f.Get("note"))

	_, err = form.Parse([]byte("a=1&b=%zz"), form.Limits{})
	var e *form.Error
	fmt.Println(errors.As(err, &e), e.Status, e.Offset, errors.Is(err, form.ErrBadEscape))
	// Output:
	// Ada Lovelace [en fr] 100%
	// true 400 6 true
}

func ExampleForm_Parse() {
	var f form.Form // reused across requests: no allocation once grown
	buf := make([]byte, 0, 64)
	for _, body := range []string{"q=go+json", "q=sonic&page=2"} {
		if err := f.Parse([]byte(body), form.Limits{}); err != nil {
			return
		}
		buf, _ = f.AppendValue(buf[:0], "q")
		fmt.Printf("%s %d\n", buf, f.Len())
	}
	// Output:
	// go json 1
	// sonic 2
}

func ExampleParseMultipart() {
	body := "--XyZ\r\n" +
		"Content-Disposition: form-data; name=\"title\"\r\n\r\n" +
		"Holiday\r\n" +
		"--XyZ\r\n" +
		"Content-Disposition: form-data; name=\"photo\"; filename=\"beach.jpg\"\r\n" +
		"Content-Type: image/jpeg\r\n\r\n" +
		"JPEGDATA\r\n" +
		"--XyZ--\r\n"
	m, err := form.ParseMultipart(strings.NewReader(body), "multipart/form-data; boundary=XyZ", form.MultipartOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close() // removes the temporary files, if any

	fh := m.File("photo")
	f, _ := fh.Open()
	content, _ := io.ReadAll(f)
	f.Close()
	fmt.Println(m.Value("title"), fh.Filename, fh.Size, fh.Header.Get("Content-Type"), string(content))

	_, err = form.ParseMultipart(strings.NewReader(body), "multipart/form-data", form.MultipartOptions{})
	fmt.Println(err)
	// Output:
	// Holiday beach.jpg 8 image/jpeg JPEGDATA
	// form: missing or invalid multipart boundary (400)
}
