//! Very large straight-line functions, split into pieces before they are
//! compiled.
//!
//! Why: Cranelift's register allocator takes memory in proportion to the
//! size of the function it works on, and a few functions in interpreter
//! guests are enormous. componentize-py's libpython carries
//! `__wasm_apply_data_relocs`, which the linker writes as one store per
//! pointer in libpython's data, ~24,000 of them one after the other
//! (731,699 Cranelift instructions with explicit bounds checks): compiling
//! it alone took a compiling child from ~100 MB to 363-384 MB, the peak of
//! a Python plugin's whole compile.
//!
//! What: a function that takes and returns nothing, has no locals, and
//! whose body is a flat list of statements, each leaving the operand stack
//! empty, with no branch or return anywhere and nothing after which the rest
//! is unreachable, does the same as calling, in order, functions that each
//! run one consecutive part of that list. One with more than
//! [`SPLIT_ABOVE`] operators becomes that: its parts (of at least
//! [`PIECE`] operators) are appended to the module as new functions of its
//! own type, so that no index already in the module changes, and its body
//! becomes the calls. The guest sees the same effects in the same order;
//! traps and exceptions pass through the calls as through the statements.
//!
//! Only core modules at the top level of a component are looked at, which is
//! where componentize-py and ComponentizeJS put theirs; everything else is
//! copied byte for byte. wasmtime validates the result like any component.

use std::ops::Range;

use anyhow::{Context, Result, bail};
use wasm_encoder::{CodeSection, Encode, FunctionSection, RawSection};
use wasmparser::{
    Chunk, CompositeInnerType, Encoding, FuncToValidate, FunctionBody, Operator, Parser, Payload,
    ValidPayload, Validator, ValidatorResources, WasmFeatures, WasmModuleResources,
};

/// Functions with more operators than this are split.
pub const SPLIT_ABOVE: usize = 16_384;

/// The fewest operators in each part of a split function (the last part
/// may have fewer).
pub const PIECE: usize = 4_096;

/// A component's section id for a core module.
const MODULE_SECTION: u8 = 1;

/// The component with its very large straight-line functions split, or
/// `None` when it has none (or is a core module, not a component). An error
/// says the component is malformed; wasmtime says how when it is compiled.
pub fn split_component(component: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut parser = Parser::new(0);
    let mut offset = 0;
    let mut out = Vec::new();
    // `component[copied..offset]` is still to be copied as it is.
    let mut copied = 0;
    loop {
        let rest = component
            .get(offset..)
            .context("the component ends early")?;
        let (consumed, payload) = match parser.parse(rest, true)? {
            Chunk::Parsed { consumed, payload } => (consumed, payload),
            Chunk::NeedMoreData(_) => bail!("the component ends early"),
        };
        let section_start = offset;
        offset += consumed;
        match payload {
            Payload::Version {
                encoding: Encoding::Module,
                ..
            } => return Ok(None),
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                let module = component
                    .get(unchecked_range.clone())
                    .context("a core module runs past the end of the component")?;
                offset = unchecked_range.end;
                if let Some(split) = split_module(module)? {
                    out.extend_from_slice(&component[copied..section_start]);
                    out.push(MODULE_SECTION);
                    split.len().encode(&mut out);
                    out.extend_from_slice(&split);
                    copied = offset;
                }
            }
            Payload::ComponentSection {
                unchecked_range, ..
            } => offset = unchecked_range.end,
            Payload::End(_) => break,
            _ => {}
        }
    }
    if copied == 0 {
        return Ok(None);
    }
    out.extend_from_slice(&component[copied..]);
    Ok(Some(out))
}

/// What to compile in place of `component`: [`split_component`]'s result
/// if it has one and that validates, else `None` (also when `component` is
/// malformed: wasmtime says how when it compiles it). A split that does not
/// validate is this program's own fault: the component is compiled as it
/// came, and `whole` is told why.
pub fn split_to_compile(component: &[u8], whole: impl FnOnce(anyhow::Error)) -> Option<Vec<u8>> {
    let Ok(Some(split)) = split_component(component) else {
        return None;
    };
    match Validator::new_with_features(WasmFeatures::all()).validate_all(&split) {
        Ok(_) => Some(split),
        Err(e) => {
            whole(anyhow::Error::from(e).context(
                "compiling the component whole: the component with its large functions split does not validate",
            ));
            None
        }
    }
}

/// A function to split: its index among the module's own (not imported)
/// functions, and the byte ranges of its parts in the module.
struct Split {
    defined: usize,
    parts: Vec<Range<usize>>,
}

/// The core module with its very large straight-line functions split, or
/// `None` when it has none.
fn split_module(module: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut splits = Vec::new();
    let mut defined = 0;
    let mut functions = 0;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        if let ValidPayload::Func(func, body) = validator.payload(&payload)? {
            functions = func.index + 1;
            if let Some(parts) = parts_of(func, &body)? {
                splits.push(Split { defined, parts });
            }
            defined += 1;
        }
    }
    if splits.is_empty() {
        return Ok(None);
    }
    let mut out = wasm_encoder::Module::new();
    let mut code = CodeSection::new();
    let mut bodies_left = 0;
    defined = 0;
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::Version { .. } => {}
            Payload::FunctionSection(reader) => {
                let types = reader.into_iter().collect::<Result<Vec<u32>, _>>()?;
                let mut section = FunctionSection::new();
                for ty in &types {
                    section.function(*ty);
                }
                for split in &splits {
                    let ty = *types
                        .get(split.defined)
                        .context("a function without a type")?;
                    for _ in &split.parts {
                        section.function(ty);
                    }
                }
                out.section(&section);
            }
            Payload::CodeSectionStart { count, .. } => bodies_left = count,
            Payload::CodeSectionEntry(body) => {
                match splits.iter().position(|s| s.defined == defined) {
                    Some(i) => {
                        // The parts come after all functions there were, in
                        // the order of `splits`.
                        let first = functions as usize
                            + splits[..i].iter().map(|s| s.parts.len()).sum::<usize>();
                        let mut calls = wasm_encoder::Function::new([]);
                        for part in 0..splits[i].parts.len() {
                            let index = u32::try_from(first + part)
                                .context("too many functions after splitting")?;
                            calls.instructions().call(index);
                        }
                        calls.instructions().end();
                        code.function(&calls);
                    }
                    None => {
                        code.raw(body.as_bytes());
                    }
                }
                defined += 1;
                bodies_left -= 1;
                if bodies_left == 0 {
                    for part in splits.iter().flat_map(|s| &s.parts) {
                        // No locals, the part's operators, the body's end.
                        let mut bytes = Vec::with_capacity(part.len() + 2);
                        bytes.push(0);
                        bytes.extend_from_slice(&module[part.clone()]);
                        bytes.push(0x0b);
                        code.raw(&bytes);
                    }
                    out.section(&code);
                }
            }
            Payload::End(_) => break,
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&RawSection {
                        id,
                        data: &module[range],
                    });
                }
            }
        }
    }
    Ok(Some(out.finish()))
}

/// The parts of `body` if it is a function to split (see the module doc),
/// validating it on the way.
fn parts_of(
    func: FuncToValidate<ValidatorResources>,
    body: &FunctionBody,
) -> Result<Option<Vec<Range<usize>>>> {
    // Each operator takes at least a byte.
    if body.range().len() <= SPLIT_ABOVE || body.get_locals_reader()?.get_count() != 0 {
        return Ok(None);
    }
    let mut validator = func.into_validator(Default::default());
    let resources = validator.resources();
    let ty = resources
        .type_id_of_function(validator.index())
        .context("a function without a type")?;
    match &resources.sub_type_at_id(ty).composite_type.inner {
        CompositeInnerType::Func(f) if f.params().is_empty() && f.results().is_empty() => {}
        _ => return Ok(None),
    }
    let mut ops = body.get_operators_reader()?;
    let mut cuts = vec![ops.original_position()];
    let mut operators = 0;
    let mut since_cut = 0;
    let end = loop {
        let at = ops.original_position();
        let op = ops.read()?;
        validator.op(at, &op)?;
        if validator.control_stack_height() == 0 {
            // The body's own `end`.
            break at;
        }
        if leaves_or_diverges(&op) {
            return Ok(None);
        }
        operators += 1;
        since_cut += 1;
        if since_cut >= PIECE
            && validator.control_stack_height() == 1
            && validator.operand_stack_height() == 0
        {
            cuts.push(ops.original_position());
            since_cut = 0;
        }
    };
    ops.finish()?;
    if operators <= SPLIT_ABOVE {
        return Ok(None);
    }
    if cuts.last() != Some(&end) {
        cuts.push(end);
    }
    let parts: Vec<_> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
    Ok((parts.len() > 1).then_some(parts))
}

/// Whether `op` branches, returns, or makes what follows unreachable: a
/// function with one is not split, since in a part it would mean something
/// else (a `return` would leave only the part), or the part after it would
/// not validate on its own.
fn leaves_or_diverges(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::BrOnNull { .. }
            | Operator::BrOnNonNull { .. }
            | Operator::BrOnCast { .. }
            | Operator::BrOnCastFail { .. }
            | Operator::Return
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
            | Operator::Unreachable
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. }
            | Operator::Delegate { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statements that store `i` at word `i % 1000`, so that the memory
    /// they leave shows the order they ran in: word `k` holds the last `i`
    /// that wrote it.
    fn stores(count: usize) -> String {
        (0..count)
            .map(|i| format!("i32.const {} i32.const {i} i32.store\n", 4 * (i % 1000)))
            .collect()
    }

    /// A component whose one core module exports `memory` and `big`, a
    /// function of type `ty` with `locals` and `body`.
    fn component(ty: &str, locals: &str, body: &str) -> Vec<u8> {
        let text = format!(
            "(component (core module
                (memory (export \"memory\") 1)
                (func (export \"small\") i32.const 0 i32.const 7 i32.store)
                (func (export \"big\") {ty} {locals} {body})
                (func (export \"after\") i32.const 8 i32.const 9 i32.store)))"
        );
        wat::parse_str(text).expect("the test component is valid text")
    }

    /// The first core module of `component`.
    fn core_module(component: &[u8]) -> &[u8] {
        for payload in Parser::new(0).parse_all(component) {
            if let Ok(Payload::ModuleSection {
                unchecked_range, ..
            }) = payload
            {
                return &component[unchecked_range];
            }
        }
        panic!("no core module in the component");
    }

    /// The module's functions, and its memory after calling `big` then
    /// `after` in a fresh instance.
    fn run(module: &[u8]) -> (usize, Vec<u8>) {
        let functions = Parser::new(0)
            .parse_all(module)
            .filter(|p| matches!(p, Ok(Payload::CodeSectionEntry(_))))
            .count();
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, module).expect("the module compiles");
        let mut store = wasmtime::Store::new(&engine, ());
        let instance =
            wasmtime::Instance::new(&mut store, &module, &[]).expect("the module instantiates");
        for name in ["big", "after"] {
            instance
                .get_typed_func::<(), ()>(&mut store, name)
                .expect("the export is a function")
                .call(&mut store, ())
                .expect("the function runs");
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("the module exports its memory");
        (functions, memory.data(&store)[..4096].to_vec())
    }

    #[test]
    fn splits_a_long_straight_function_and_keeps_what_it_does() {
        // 6,000 statements of 3 operators: 18,000 operators.
        let original = component("", "", &stores(6_000));
        let split = split_component(&original)
            .expect("the component parses")
            .expect("the function is split");
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        validator
            .validate_all(&split)
            .expect("the split component is valid");

        let (functions_before, memory_before) = run(core_module(&original));
        let (functions_after, memory_after) = run(core_module(&split));
        // 18,000 operators in parts of at least 4,096 (4,098: whole
        // statements): 4 such parts and the remaining 1,608.
        assert_eq!(functions_before, 3);
        assert_eq!(functions_after, 3 + 5);
        assert_eq!(memory_after, memory_before);
        let word =
            |k: usize| u32::from_le_bytes(memory_after[4 * k..4 * k + 4].try_into().unwrap());
        // Word 0: `small` never ran; the last statement writing it was 5,000.
        assert_eq!(word(0), 5_000);
        assert_eq!(word(2), 9, "`after`, whose index did not change, ran");
        assert_eq!(word(999), 5_999);
    }

    #[test]
    fn leaves_functions_it_cannot_split_as_they_are() {
        let body = stores(6_000);
        for (what, ty, locals, body) in [
            ("too short", "", "", stores(5_000)),
            ("a return", "", "", format!("{body} return")),
            ("a branch", "", "", format!("{body} br 0")),
            ("an unreachable", "", "", format!("{body} unreachable")),
            ("a local", "", "(local i32)", body.clone()),
            ("a parameter", "(param i32)", "", body.clone()),
            (
                "a result",
                "(result i32)",
                "",
                format!("{body} i32.const 1"),
            ),
        ] {
            let original = component(ty, locals, &body);
            assert!(
                split_component(&original)
                    .expect("the component parses")
                    .is_none(),
                "a function with {what} was split"
            );
        }
    }

    #[test]
    fn a_statement_is_never_cut() {
        // One statement 20,000 operators long: the stack is never empty
        // before its end, so there is nowhere to cut.
        let pushes = "i32.const 1\n".repeat(10_000);
        let drops = "drop\n".repeat(10_000);
        let original = component("", "", &format!("{pushes}{drops}"));
        assert!(split_component(&original).expect("parses").is_none());
    }

    #[test]
    fn core_modules_and_malformed_components() {
        let module = wat::parse_str("(module)").expect("valid text");
        assert!(split_component(&module).expect("a module parses").is_none());
        let original = component("", "", &stores(6_000));
        let error = split_component(&original[..original.len() / 2])
            .expect_err("half a component does not parse");
        assert!(!error.to_string().is_empty());
    }
}
