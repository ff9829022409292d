/* placeholder until the daemon lands in this change */
int main(void)
{
	return 0;
}
