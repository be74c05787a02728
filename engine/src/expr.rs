//! CEL expressions (conditions, concurrency keys, event filters), evaluated with
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
        match self.execute(vars)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(format!("`{}` gave {other:?}, not a boolean", self.source)),
        }
    }

    /// Evaluate to a grouping key: strings as they are, numbers and booleans as text.
    pub fn eval_key(&self, vars: &[(&str, &Value)]) -> Result<String, String> {
        match self.execute(vars)? {
            cel::Value::String(s) => Ok(s.to_string()),
            cel::Value::Int(i) => Ok(i.to_string()),
            cel::Value::UInt(u) => Ok(u.to_string()),
            cel::Value::Float(f) => Ok(f.to_string()),
            cel::Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!(
                "`{}` gave {other:?}, not a string or number",
                self.source
            )),
        }
    }

    fn execute(&self, vars: &[(&str, &Value)]) -> Result<cel::Value, String> {
        let mut context = cel::Context::default();
        for (name, value) in vars {
            context
                .add_variable(*name, *value)
                .map_err(|e| format!("cannot bind `{name}`: {e}"))?;
        }
        self.program
            .execute(&context)
            .map_err(|e| format!("`{}` failed: {e}", self.source))
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
    fn absent_outputs_are_null_and_maps_have_a_size() {
        let output =
            json!({"pooler": null, "router": {"port": 5432}, "replicas": {"replica-1": {}}});
        let e = Expr::compile("output.pooler == null && output.router != null").unwrap();
        assert_eq!(e.eval_bool(&[("output", &output)]), Ok(true));
        let e = Expr::compile("size(output.replicas) < 2").unwrap();
        assert_eq!(e.eval_bool(&[("output", &output)]), Ok(true));
        let e = Expr::compile("size(output.replicas) < 1").unwrap();
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

    #[test]
    fn keys_are_text() {
        let input = json!({"db": "pg16", "n": 3});
        assert_eq!(
            Expr::compile("input.db")
                .unwrap()
                .eval_key(&[("input", &input)]),
            Ok("pg16".into())
        );
        assert_eq!(
            Expr::compile("input.n")
                .unwrap()
                .eval_key(&[("input", &input)]),
            Ok("3".into())
        );
        assert!(
            Expr::compile("input")
                .unwrap()
                .eval_key(&[("input", &input)])
                .is_err()
        );
    }
}
