/* The SDK's static helper library: pure functions over values. */
#include <string.h>

#include "runnel/params.h"

int rn_str_eq(rn_str s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && (n == 0 || memcmp(s.ptr, z, n) == 0);
}

const rn_value *rn_record_get(const rn_value *rec, const char *name)
{
    size_t n;
    if (!rec || rec->kind != RN_RECORD)
        return NULL;
    n = strlen(name);
    for (uint32_t i = 0; i < rec->len; i++) {
        const rn_field *f = &rec->u.fields[i];
        if (f->name.len == n && memcmp(f->name.ptr, name, n) == 0)
            return &f->value;
    }
    return NULL;
}

int64_t rn_param_int(const rn_value *params, const char *name, int64_t def)
{
    const rn_value *v = rn_record_get(params, name);
    if (!v)
        return def;
    if (v->kind == RN_INT || v->kind == RN_BOOL)
        return v->u.i;
    if (v->kind == RN_DOUBLE)
        return (int64_t)v->u.d;
    return def;
}

double rn_param_double(const rn_value *params, const char *name, double def)
{
    const rn_value *v = rn_record_get(params, name);
    int ok;
    double d;
    if (!v)
        return def;
    d = rn_value_as_double(v, &ok);
    return ok ? d : def;
}

int rn_param_bool(const rn_value *params, const char *name, int def)
{
    const rn_value *v = rn_record_get(params, name);
    if (!v || (v->kind != RN_BOOL && v->kind != RN_INT))
        return def;
    return v->u.i != 0;
}

rn_str rn_param_str(const rn_value *params, const char *name, const char *def)
{
    const rn_value *v = rn_record_get(params, name);
    rn_str s;
    if (v && v->kind == RN_STRING) {
        s.ptr = v->u.s;
        s.len = v->len;
        return s;
    }
    s.ptr = def;
    s.len = def ? strlen(def) : 0;
    return s;
}
