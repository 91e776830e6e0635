"""The harness: connect agents to environment servers, run scenarios, grade final states."""
