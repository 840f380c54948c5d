#!/usr/bin/python3
"""Writes pageviews.avro, the Avro example's data set (deterministic
records; python3-avro, deflate codec, a block every 500 records).

    /usr/bin/python3 examples/avro/gen_pageviews.py [OUT] [N]
"""
import datetime
import json
import random
import sys

import avro.datafile
import avro.io
import avro.schema

SCHEMA = {
    "type": "record", "name": "PageView", "namespace": "example",
    "fields": [
        {"name": "user", "type": {
            "type": "record", "name": "User", "fields": [
                {"name": "name", "type": "string"},
                {"name": "country", "type": {
                    "type": "enum", "name": "Country",
                    "symbols": ["DE", "FR", "JP", "US"]}}]}},
        {"name": "url", "type": "string"},
        {"name": "status", "type": "int"},
        {"name": "bytes", "type": "long"},
        {"name": "referrer", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "ts", "type": {"type": "long",
                                "logicalType": "timestamp-micros"}},
    ],
}

START = datetime.datetime(2023, 11, 14, 22, 13, 20,
                          tzinfo=datetime.timezone.utc)
USERS = [("ann", "DE"), ("bob", "US"), ("cho", "JP"), ("dee", "FR"),
         ("eve", "US"), ("fay", "DE")]
PATHS = ["/", "/search", "/cart", "/product/1", "/product/2", "/help"]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "pageviews.avro"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    rnd = random.Random(42)
    schema = avro.schema.parse(json.dumps(SCHEMA))
    with open(out, "wb") as f:
        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema,
                                         codec="deflate")
        for i in range(n):
            name, country = USERS[rnd.randrange(len(USERS))]
            path = PATHS[min(rnd.randrange(8), len(PATHS) - 1)]
            w.append({
                "user": {"name": name, "country": country},
                "url": path + ("?q=%d" % rnd.randrange(100)
                               if rnd.random() < 0.5 else ""),
                "status": 500 if rnd.random() < 0.03 else 200,
                "bytes": rnd.randrange(100, 20000),
                "referrer": None if rnd.random() < 0.4 else "https://ex.org/",
                "tags": rnd.sample(["new", "mobile", "ad"], rnd.randrange(3)),
                "ts": START + datetime.timedelta(seconds=i),
            })
            if (i + 1) % 500 == 0:
                w.sync()
        w.close()


if __name__ == "__main__":
    main()
