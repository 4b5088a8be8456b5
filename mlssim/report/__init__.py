"""Reading run results: summary tables now; figures and sweep reports (issue 9) later."""
