-- Load guard and the :FimLsp command. The server starts only once setup() is called.
if vim.g.loaded_fim_lsp then
  return
end
vim.g.loaded_fim_lsp = 1

if vim.fn.has('nvim-0.10') ~= 1 then
  vim.notify('fim-lsp needs Neovim 0.10 or newer', vim.log.levels.ERROR)
  return
end

local subcommands = {
  status = function()
    print(require('fim_lsp').status())
  end,
  toggle = function()
    require('fim_lsp').toggle()
  end,
  restart = function()
    require('fim_lsp').restart()
  end,
  stop = function()
    require('fim_lsp').stop()
  end,
  log = function()
    vim.cmd.split(vim.lsp.get_log_path())
  end,
}

vim.api.nvim_create_user_command('FimLsp', function(args)
  local sub = subcommands[args.fargs[1] or 'status']
  if not sub then
    vim.notify('FimLsp: unknown subcommand ' .. args.fargs[1], vim.log.levels.ERROR)
    return
  end
  sub()
end, {
  nargs = '?',
  desc = 'fim-lsp: status | toggle | restart | stop | log',
  complete = function()
    return vim.tbl_keys(subcommands)
  end,
})
