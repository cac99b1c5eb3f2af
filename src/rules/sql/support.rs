//! The planner support function of `segment_assign(text, anyelement)`.
//!
//! `SELECT segment_assign('lifecycle', c) FROM customers c` would make
//! PostgreSQL build a whole-row value per row (deform every column, form a
//! new tuple) only for us to deform it again, though a ruleset reads a few
//! columns. At plan time, when the ruleset is a constant and the row is a
//! table's row (or a view's, flattened into a ROW(...) of its columns), this
//! rewrites the call into `segment_assign_columns('lifecycle', '{a,b}', c.a,
//! c.b)` ([`super::columns`]): the scan hands over just those columns.
//!
//! It leaves the call alone whenever the rewrite could change an answer or
//! an error: a non-constant ruleset, an unknown ruleset, a column missing or
//! of the wrong type (the row path raises the precise error), a row that can
//! be NULL as a whole (outer joins, grouping sets), a view row with volatile
//! columns. The plan depends on `segment_rulesets`, so replacing or dropping
//! a ruleset re-plans cached queries (see `catalog::invalidate_plans`).

use super::catalog::try_program;
use super::row::slot_reader;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgList};
use std::ffi::{CStr, CString};

/// The row expression's columns, as expressions, with their descriptor.
struct RowColumns {
    tupdesc: pg_sys::TupleDesc,
    /// The expression of attribute `attnum` (1-based).
    column: Box<dyn Fn(usize) -> *mut pg_sys::Node>,
}

/// Whether any join in the query can null a row out (then a whole-row value
/// can be NULL, which its columns cannot tell apart from a row of NULLs).
unsafe fn has_outer_join(query: *mut pg_sys::Query) -> bool {
    unsafe {
        PgList::<pg_sys::RangeTblEntry>::from_pg((*query).rtable)
            .iter_ptr()
            .any(|rte| (*rte).rtekind == pg_sys::RTEKind::RTE_JOIN && (*rte).jointype != pg_sys::JoinType::JOIN_INNER)
    }
}

/// The columns of `expr` when it is a table's whole row or a named ROW(...).
unsafe fn row_columns(root: *mut pg_sys::PlannerInfo, expr: *mut pg_sys::Node) -> Option<RowColumns> {
    unsafe {
        let query = (*root).parse;
        if !(*query).groupingSets.is_null() || has_outer_join(query) {
            return None;
        }
        if (*expr).type_ == pg_sys::NodeTag::T_Var {
            let var = expr as *mut pg_sys::Var;
            if (*var).varattno != 0 || (*var).varlevelsup != 0 || (*var).varno < 1 {
                return None;
            }
            let rtable = PgList::<pg_sys::RangeTblEntry>::from_pg((*query).rtable);
            let rte = rtable.get_ptr((*var).varno as usize - 1)?;
            if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || pg_sys::get_rel_type_id((*rte).relid) != (*var).vartype {
                return None;
            }
            let tupdesc = pg_sys::lookup_rowtype_tupdesc_copy((*var).vartype, -1);
            let (varno, desc) = ((*var).varno, tupdesc);
            let column = move |attnum: usize| {
                let a = &(*desc).attrs.as_slice((*desc).natts as usize)[attnum - 1];
                pg_sys::makeVar(varno, attnum as i16, a.atttypid, a.atttypmod, a.attcollation, 0) as *mut pg_sys::Node
            };
            return Some(RowColumns { tupdesc, column: Box::new(column) });
        }
        if (*expr).type_ == pg_sys::NodeTag::T_RowExpr {
            let row = expr as *mut pg_sys::RowExpr;
            if (*row).row_typeid == pg_sys::RECORDOID || pg_sys::contain_volatile_functions(expr) {
                return None;
            }
            let tupdesc = pg_sys::lookup_rowtype_tupdesc_copy((*row).row_typeid, -1);
            let args = PgList::<pg_sys::Node>::from_pg((*row).args);
            if args.len() != (*tupdesc).natts as usize {
                return None;
            }
            let args: Vec<*mut pg_sys::Node> = args.iter_ptr().collect();
            let column = move |attnum: usize| pg_sys::copyObjectImpl(args[attnum - 1].cast()) as *mut pg_sys::Node;
            return Some(RowColumns { tupdesc, column: Box::new(column) });
        }
        None
    }
}

/// `segment_assign_columns(...)` for `call`, or None to leave it alone.
unsafe fn rewrite(root: *mut pg_sys::PlannerInfo, call: *mut pg_sys::FuncExpr) -> Option<*mut pg_sys::Node> {
    unsafe {
        let args = PgList::<pg_sys::Node>::from_pg((*call).args);
        if args.len() != 2 {
            return None;
        }
        let (ruleset, customer) = (args.get_ptr(0)?, args.get_ptr(1)?);
        if (*ruleset).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let ruleset_const = ruleset as *mut pg_sys::Const;
        if (*ruleset_const).constisnull || (*ruleset_const).consttype != pg_sys::TEXTOID {
            return None;
        }
        let name = String::from_datum((*ruleset_const).constvalue, false)?;
        let columns = row_columns(root, customer)?;
        let program = try_program(&name)?;

        let natts = (*columns.tupdesc).natts as usize;
        let attrs = (*columns.tupdesc).attrs.as_slice(natts);
        let mut names = Vec::with_capacity(program.slots.attrs.len());
        let mut new_args = PgList::<pg_sys::Node>::new();
        new_args.push(ruleset);
        let mut passed = Vec::with_capacity(program.slots.attrs.len());
        for (attr, ty) in &program.slots.attrs {
            let (index, a) = attrs.iter().enumerate().find(|(_, a)| !a.attisdropped && pgrx::name_data_to_str(&a.attname) == attr)?;
            slot_reader(a.atttypid, attr, *ty, &name, "").ok()?;
            names.push(attr.clone());
            passed.push((columns.column)(index + 1));
        }
        let names_datum = names.into_datum()?;
        new_args.push(pg_sys::makeConst(pg_sys::TEXTARRAYOID, -1, pg_sys::DEFAULT_COLLATION_OID, -1, names_datum, false, false).cast());
        for p in passed {
            new_args.push(p);
        }

        let schema = pg_sys::get_namespace_name(pg_sys::get_func_namespace((*call).funcid));
        if schema.is_null() {
            return None;
        }
        let function = columns_function(schema)?;
        let rewritten = pg_sys::makeFuncExpr(
            function,
            pg_sys::TEXTOID,
            new_args.into_pg(),
            (*call).funccollid,
            (*call).inputcollid,
            pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
        );
        (*rewritten).location = (*call).location;

        // Re-plan cached queries when a ruleset changes (the columns passed may change).
        let catalog = pg_sys::get_relname_relid(c"segment_rulesets".as_ptr(), pg_sys::get_func_namespace((*call).funcid));
        if catalog != pg_sys::InvalidOid {
            (*(*root).glob).relationOids = pg_sys::lappend_oid((*(*root).glob).relationOids, catalog);
        }
        Some(rewritten.cast())
    }
}

/// The oid of `schema.segment_assign_columns(text, text[], "any")`.
unsafe fn columns_function(schema: *mut std::ffi::c_char) -> Option<pg_sys::Oid> {
    unsafe {
        let schema = CString::new(CStr::from_ptr(schema).to_bytes()).ok()?;
        let mut name = PgList::<pg_sys::Node>::new();
        name.push(pg_sys::makeString(pg_sys::pstrdup(schema.as_ptr())).cast());
        name.push(pg_sys::makeString(pg_sys::pstrdup(c"segment_assign_columns".as_ptr())).cast());
        let types = [pg_sys::TEXTOID, pg_sys::TEXTARRAYOID, pg_sys::ANYOID];
        let oid = pg_sys::LookupFuncName(name.into_pg(), 3, types.as_ptr(), true);
        (oid != pg_sys::InvalidOid).then_some(oid)
    }
}

/// `prosupport` of segment_assign(text, anyelement): answers
/// SupportRequestSimplify with the rewritten call, everything else with NULL.
///
/// # Safety
/// Called by the planner with one `internal` argument.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn segment_assign_support(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    unsafe {
        let request = (*fcinfo).args.as_slice(1)[0].value.cast_mut_ptr::<pg_sys::Node>();
        if request.is_null() || (*request).type_ != pg_sys::NodeTag::T_SupportRequestSimplify {
            return pg_sys::Datum::from(0usize);
        }
        let simplify = request as *mut pg_sys::SupportRequestSimplify;
        let root = (*simplify).root;
        if root.is_null() || (*root).parse.is_null() || (*root).glob.is_null() {
            return pg_sys::Datum::from(0usize);
        }
        match rewrite(root, (*simplify).fcall) {
            Some(node) => pg_sys::Datum::from(node),
            None => pg_sys::Datum::from(0usize),
        }
    }
}

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_segment_assign_support() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION segment_assign_support(internal) RETURNS internal
  IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'segment_assign_support';
COMMENT ON FUNCTION segment_assign_support(internal) IS
  'internal: planner support of segment_assign(text, anyelement); rewrites a call over a table row into segment_assign_columns on just the columns the ruleset reads';
ALTER FUNCTION segment_assign(text, anyelement) SUPPORT segment_assign_support;
"#,
    name = "rules_assign_support",
    requires = ["rules_assign_columns", segment_assign]
);
