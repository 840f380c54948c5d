/*
 * runnel SDK — everything a plugin includes.
 */
#ifndef RUNNEL_RUNNEL_H
#define RUNNEL_RUNNEL_H

#include "runnel/value.h"
#include "runnel/plugin.h"
#include "runnel/host.h"
#include "runnel/params.h"
#include "runnel/keypath.h"

#define RN_VERSION_STRING "0.1.0"

#endif /* RUNNEL_RUNNEL_H */
