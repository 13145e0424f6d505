//! Clocks and calendar time: `emscripten_date_now`, `emscripten_get_now` and the `_tzset_js`,
//! `_localtime_js`, `_gmtime_js`, `_mktime_js` family, on the guest's keel-sys clocks.

use crate::Def;

pub(crate) const FUNCTIONS: &[Def] = &[];
