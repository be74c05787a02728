//! CEL expressions (conditions now; concurrency keys and event filters later), evaluated with
//! the `cel` crate over JSON values.

use serde_json::Value;

pub struct Expr {
    source: String,
    program: cel::Program,
}

impl Expr {
    pub fn compile(source: &str) -> Result<Expr, String> {
        let program = cel::Program::compile(source).map_err(|e| e.to_string())?;
        Ok(Expr {
            source: source.to_string(),
            program,
        })
    }

    /// Evaluate with `vars` bound; anything but a boolean result is an error.
    pub fn eval_bool(&self, vars: &[(&str, &Value)]) -> Result<bool, String> {
        let mut context = cel::Context::default();
        for (name, value) in vars {
            context
                .add_variable(*name, *value)
                .map_err(|e| format!("cannot bind `{name}`: {e}"))?;
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("`{}` gave {other:?}, not a boolean", self.source)),
            Err(e) => Err(format!("`{}` failed: {e}", self.source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_over_json() {
        let output = json!({"rows": 12, "ok": true, "name": "pg16"});
        let e = Expr::compile("output.rows > 10 && output.ok && output.name == 'pg16'").unwrap();
        assert_eq!(e.eval_bool(&[("output", &output)]), Ok(true));
        let e = Expr::compile("output.rows < 10").unwrap();
        assert_eq!(e.eval_bool(&[("output", &output)]), Ok(false));
    }

    #[test]
    fn errors_are_messages() {
        assert!(Expr::compile("output.(").is_err());
        let e = Expr::compile("output.rows").unwrap();
        let err = e.eval_bool(&[("output", &json!({"rows": 1}))]).unwrap_err();
        assert!(err.contains("not a boolean"), "{err}");
        let err = e.eval_bool(&[]).unwrap_err();
        assert!(err.contains("failed"), "{err}");
    }
}
