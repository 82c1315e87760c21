def test_demo_runs_the_whole_loop_offline_and_says_it_is_scripted(cli):
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    output = result.stdout + result.stderr
    assert "SCRIPTED model" in output
    assert "step 1 approved" in output and "step 2 approved" in output
    assert "succeeded" in output
