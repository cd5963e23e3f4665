package json_test

import (
	"fmt"
	"reflect"

	"github.com/sluice-go/sluice/codec/json"
)

type order struct {
	ID    int      `json:"id"`
	Items []string `json:"items"`
}

func ExampleDecode() {
	var o order
	err := json.Decode([]byte(`{"id":7,"items":["tea","cake"]}`), &o, json.Options{})
	fmt.Println(o, err)

	err = json.Decode([]byte(`{"id":"seven"}`), &o, json.Options{})
	fmt.Println(err)

	err = json.Decode([]byte(`{"id":7,"coupon":"FREE"}`), &o, json.Options{DisallowUnknownFields: true})
	fmt.Println(err)
	// Output:
	// {7 [tea cake]} <nil>
	// json: field "id": cannot use string as int (at offset 13)
	// json: unknown field "coupon"
}

func ExampleAppendErrorBody() {
	var o order
	err := json.Decode([]byte(`{"id":7,}`), &o, json.Options{})
	fmt.Printf("%s\n", json.AppendErrorBody(nil, err))
	// Output:
	// {"error":"invalid JSON","offset":9,"detail":"invalid character '}' looking for beginning of object key string"}
}

func ExampleAppend() {
	buf := []byte("data: ")
	buf, err := json.Append(buf, map[string]string{"html": "<b>&</b>"})
	fmt.Printf("%s %v\n", buf, err)
	// Output:
	// data: {"html":"<b>&</b>"} <nil>
}

func ExampleMarshal() {
	b, err := json.Marshal(order{ID: 1, Items: []string{"tea"}})
	if err != nil {
		return
	}
	fmt.Printf("%s\n", b.B) // write b.B, then give the buffer back
	json.PutBuffer(b)
	// Output:
	// {"id":1,"items":["tea"]}
}

func ExamplePretouch() {
	err := json.Pretouch(reflect.TypeFor[order]())
	fmt.Println(err)
	// Output:
	// <nil>
}
