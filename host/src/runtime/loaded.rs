//! Components this engine has loaded, by the SHA-256 of their bytes, so
//! that a reload (or a second module of the same component) gets the very
//! same compiled component back instead of a new copy.
//!
//! Why it matters beyond the load time: wasmtime's instance pool keeps each
//! memory slot affine to the compiled module that last used it, and reuses
//! it (its image already mapped, its first pages already resident) only for
//! that same module. A copy loaded anew is another module to the pool: it
//! takes unused slots and leaves the old ones holding resident pages, so
//! every reload of an unchanged config would add to the process's memory
//! until the pool's warm-slot budget ran out.
//!
//! The table holds weak references: a component lives as long as a module
//! that uses it, and a reload that drops a module lets its component go
//! (wasmtime then clears its slots).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use wasmtime::component::Component;

/// The components loaded by one engine, by digest. Each module holds an
/// `Arc` of its component; the table only a `Weak`.
#[derive(Default)]
pub struct LoadedComponents {
    by_digest: Mutex<HashMap<String, Weak<Component>>>,
}

impl LoadedComponents {
    /// The component with `digest`, if a live module still uses it.
    pub fn get(&self, digest: &str) -> Option<Arc<Component>> {
        let map = self
            .by_digest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(digest).and_then(Weak::upgrade)
    }

    /// Records `component` under `digest` and forgets the components no
    /// module uses any more.
    pub fn insert(&self, digest: String, component: Component) -> Arc<Component> {
        let loaded = Arc::new(component);
        let mut map = self
            .by_digest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, weak| weak.strong_count() > 0);
        map.insert(digest, Arc::downgrade(&loaded));
        loaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Config, Engine};

    /// An empty component, in the binary format (`\0asm`, version 0xd,
    /// layer 1).
    const EMPTY: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn component(engine: &Engine) -> Component {
        Component::new(engine, EMPTY).expect("an empty component compiles")
    }

    fn engine() -> Engine {
        let mut config = Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).expect("engine")
    }

    #[test]
    fn a_component_is_shared_while_a_module_holds_it() {
        let engine = engine();
        let loaded = LoadedComponents::default();
        let held = loaded.insert("a".into(), component(&engine));
        let again = loaded.get("a").expect("still held, so found");
        assert!(Arc::ptr_eq(&held, &again));
        assert!(loaded.get("b").is_none());
    }

    #[test]
    fn a_component_no_module_holds_is_forgotten() {
        let engine = engine();
        let loaded = LoadedComponents::default();
        drop(loaded.insert("a".into(), component(&engine)));
        assert!(loaded.get("a").is_none());
        let _b = loaded.insert("b".into(), component(&engine));
        let map = loaded.by_digest.lock().expect("lock");
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["b"]);
    }
}
